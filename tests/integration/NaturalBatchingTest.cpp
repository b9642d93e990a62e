// Natural batching: an applier commits what it holds as soon as its queue is empty, so at a low
// rate an event is in the copy at once, not after apply.linger_ms; under load the batches grow by
// themselves.

#include <gtest/gtest.h>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::EventBuilder;

// A linger far longer than any round trip: an event that waited for it would show.
constexpr const char* kLongLingerMs = "4000";

TEST(NaturalBatchingTest, ALoneEventIsAppliedWithoutWaitingForTheLinger) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  const std::string topic = setup.topic(Plant::Potato);
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_LINGER_MS", kLongLingerMs}});
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  SqliteStore copy(setup.database_path);
  testing::TestProducer producer;
  // One at a time, each once the previous is in the copy: the queue is empty behind every one.
  for (std::int64_t id = 1; id <= 5; ++id) {
    ChangeEvent e = EventBuilder::create(id, 1);
    producer.send(topic, EventCodec::encodeKey(id), EventCodec::encode(e));
    producer.flush();
    auto acknowledged = Clock::now();
    ASSERT_TRUE(testing::eventually([&] { return copy.versionOf(Plant::Potato, id) == 1; }, 10s, 5ms))
        << consumer.log();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - acknowledged);
    EXPECT_LT(took.count(), 2000) << "image " << id << " waited for the " << kLongLingerMs << " ms linger";
  }
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(NaturalBatchingTest, EventsQueuedTogetherCommitInFewTransactions) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  const std::string topic = setup.topic(Plant::Potato);
  constexpr std::int64_t kImages = 3000;
  testing::TestProducer producer;
  for (std::int64_t id = 1; id <= kImages; ++id) {
    producer.send(topic, EventCodec::encodeKey(id), EventCodec::encode(EventBuilder::create(id, 1)));
  }
  producer.flush();
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_LINGER_MS", "0"}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents("sqlite:" + setup.database_path) == kImages; },
                                  60s))
      << consumer.log();
  // Without a linger, only the queue decides: what arrived in one fetch commits together.
  std::string metrics = testing::httpRequest(port, "GET", "/metrics").body;
  auto at = metrics.find("\nleafsync_apply_batch_duration_seconds_count");
  ASSERT_NE(at, std::string::npos) << metrics;
  double batches = std::stod(metrics.substr(metrics.find(' ', at) + 1));
  EXPECT_LT(batches, kImages / 10.0) << "transactions for " << kImages << " events";
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

}  // namespace
}  // namespace leafsync
