// The Kafka broker stopped and started again under a running producer and consumer, while
// cameras keep writing: nothing is lost, nothing needs a restart.

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "leafsync/SqliteSourceStore.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/ScriptedServer.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

double metric(std::uint16_t port, const std::string& name) {
  std::string text = testing::httpRequest(port, "GET", "/metrics").body;
  auto pos = text.find("\n" + name + " ");  // the sample line, not its # HELP line
  return pos == std::string::npos ? -1.0 : std::stod(text.substr(pos + name.size() + 2));
}

TEST(BrokerOutageTest, ProducerAndConsumerRideOutABrokerRestartWhileCamerasWriteAndLoseNothing) {
  testing::ScriptedServer broker(testing::ScriptedServer::Kind::Kafka);
  testing::ScopedBootstrap bootstrap(broker.address());
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  testing::ProducerProcess producer(setup, dir.file("producer.log"));
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  producer.start();
  consumer.start();
  std::uint16_t producer_port = producer.waitStarted();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();

  // Cameras write to the source for the whole test; the producer's relay publishes.
  testing::ServiceProcess cameras(testing::producerBinary(),
                                  {"load", "--config", setup.producer_config_path, "--no-relay", "--rate", "400",
                                   "--duration", "25", "--mix", "30:60:10", "--image-bytes", "512", "--seed", "5"},
                                  dir.file("cameras.log"));
  cameras.start();
  auto copied = [&] {
    SqliteStore copy(setup.database_path);
    return copy.count(Plant::Potato) + copy.count(Plant::Tomato) + copy.count(Plant::Pepper);
  };
  ASSERT_TRUE(testing::eventually([&] { return copied() > 200; }, 30s)) << consumer.log();

  broker.stop();
  // Writes go on into the source and its outbox while nothing can be published.
  ASSERT_TRUE(testing::eventually([&] { return metric(producer_port, "leafsync_outbox_depth") > 500; }, 30s))
      << producer.log();
  std::this_thread::sleep_for(5s);  // the outage itself, not a synchronisation
  EXPECT_TRUE(producer.running()) << producer.log();
  EXPECT_TRUE(consumer.running()) << consumer.log();
  broker.start();

  EXPECT_EQ(cameras.wait(60s), 0) << cameras.log();
  EXPECT_EQ(testing::waitForIdenticalCopy(setup, 120s), "") << consumer.log();
  EXPECT_TRUE(producer.running() && consumer.running()) << "recovered without a restart";
  EXPECT_EQ(metric(producer_port, "leafsync_publish_failures_total"), 0)
      << "a broker outage delays publishing; it does not fail it\n" << producer.log();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
  EXPECT_EQ(producer.terminate(20s), 0) << producer.log();
}

}  // namespace
}  // namespace leafsync
