// A consumer that cannot make progress says so — readiness, a metric, a log line — or exits
// non-zero; it never looks healthy while the copy goes stale. Real broker, real processes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "DeadLetterRecord.h"
#include "leafsync/EventCodec.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/SqliteConnection.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/SqliteImageRow.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/ScriptedServer.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::EventBuilder;

// The value of `leafsync_partition_stalled` for one partition; -1 when it is not exported.
double stalledGauge(std::uint16_t port, const std::string& topic, std::int32_t partition) {
  std::string text = testing::httpRequest(port, "GET", "/metrics").body;
  std::string labels = "partition=\"" + std::to_string(partition) + "\",topic=\"" + topic + "\"}";
  auto pos = text.find("leafsync_partition_stalled{" + labels);
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(text.find('}', pos) + 2));
}

std::string header(const testing::ReadMessage& m, const std::string& name) {
  auto it = m.headers.find(name);
  return it == m.headers.end() ? "<absent>" : it->second;
}

TEST(FailLoudlyTest, ABadMessageTooLargeForTheDeadLetterTopicIsShortenedAndTheStreamGoesOn) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir, 1);
  // A dead-letter topic that takes less than the source topic does (200 kB against ~1 MB).
  const std::string dlq = setup.dead_letter_topic + "-small";
  testing::createTopics({dlq}, 1, {{"max.message.bytes", "200000"}});
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_DLQ_TOPIC", dlq}});
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();

  const std::string topic = setup.topic(Plant::Potato);
  const std::string big = "{\"op\":\"" + std::string(700000, 'x') + "\"}";
  testing::TestProducer producer;
  producer.send(topic, "1", "{not json");
  producer.send(topic, "2", big);
  producer.send(topic, "3", EventCodec::encode(EventBuilder::create(3, 1)));
  producer.flush();

  EXPECT_TRUE(testing::eventually(
      [&] { return testing::httpRequest(consumer.port(), "GET", "/image-plant/potato/3").status == 200; }, 5s))
      << "the create after the bad messages is applied\n" << consumer.log();

  std::vector<testing::ReadMessage> dead = testing::readTopic(dlq, 3, 5s);  // 3: a duplicate would show
  ASSERT_EQ(dead.size(), 2u) << "one record per bad message\n" << consumer.log();
  EXPECT_EQ(dead[0].value, "{not json");
  EXPECT_EQ(header(dead[0], "leafsync.truncated"), "<absent>");
  EXPECT_EQ(dead[1].key, "2");
  EXPECT_EQ(header(dead[1], "leafsync.truncated"), "true");
  EXPECT_EQ(header(dead[1], "leafsync.original.value_bytes"), std::to_string(big.size()));
  EXPECT_EQ(header(dead[1], "leafsync.original.value_sha256"), sha256Hex(big));
  EXPECT_LE(header(dead[1], "leafsync.reason").size(), kReasonHeaderBytes);
  EXPECT_LT(dead[1].value.size(), 200000u);
  EXPECT_EQ(dead[1].value, big.substr(0, dead[1].value.size()));
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(FailLoudlyTest, AFencedStaticMemberExitsNonZeroSayingItWasFenced) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  std::map<std::string, std::string> same_id = {{"LEAFSYNC_GROUP_INSTANCE_ID", "leafsync-twin"}};
  testing::ConsumerProcess first(setup, dir.file("first.log"), same_id);
  first.start();
  ASSERT_TRUE(first.waitReady()) << first.log();
  testing::ConsumerProcess second(setup, dir.file("second.log"), same_id);
  second.start();
  second.waitStarted();

  int status = first.wait(15s);
  EXPECT_EQ(status, 1) << "the fenced member stops with a non-zero status\n" << first.log();
  EXPECT_NE(first.log().find("event=fatal"), std::string::npos) << first.log();
  EXPECT_NE(first.log().find("fenced"), std::string::npos) << "its log says why\n" << first.log();
  EXPECT_TRUE(second.waitReady()) << "the member that fenced it carries on\n" << second.log();
  EXPECT_EQ(second.terminate(20s), 0) << second.log();
}

TEST(FailLoudlyTest, NotReadyWhileFarBehindAfterABrokerCrashAndReadyOnceCaughtUp) {
  testing::ScriptedServer broker(testing::ScriptedServer::Kind::Kafka);
  testing::ScopedBootstrap bootstrap(broker.address());
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  constexpr std::int64_t kMaxLag = 300;
  testing::ProducerProcess producer(setup, dir.file("producer.log"));
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"),
                                    {{"LEAFSYNC_READY_MAX_LAG", std::to_string(kMaxLag)}});
  producer.start();
  consumer.start();
  producer.waitStarted();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  testing::ServiceProcess cameras(testing::producerBinary(),
                                  {"load", "--config", setup.producer_config_path, "--no-relay", "--rate", "500",
                                   "--duration", "30", "--mix", "40:55:5", "--image-bytes", "256", "--seed", "9"},
                                  dir.file("cameras.log"));
  cameras.start();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup.database_path) > 500; }, 30s))
      << consumer.log();

  // Opened before the lock below: opening a store migrates, which needs the write lock.
  std::unique_ptr<Store> copy = openStore(setup.database_path);
  broker.kill9();
  std::this_thread::sleep_for(10s);  // the outage itself, not a synchronisation
  // Whether the consumer rejoins at once or seconds late after the restart is the broker's
  // timing, and one that rejoins at once keeps up with the relay's backlog. A write lock on
  // the copy, held until the copy is seen far behind (or 30 s), makes the backlog pile up in
  // Kafka on every run, so the samples below always test something.
  SqliteConnection hold(setup.database_path);
  hold.exec("BEGIN IMMEDIATE");
  bool held = true;
  auto release_by = Clock::now() + 30s;
  broker.start();

  // Truth: events in Kafka that the copy has not committed. Three samples in a row far
  // behind (> 2 x max lag, ~400 ms apart) leave no doubt that /readyz had to say 503.
  testing::WatermarkReader watermarks;
  auto behind = [&] {
    std::int64_t high = watermarks.sum(setup.topics, 3);
    return high < 0 ? -1 : high - testing::committedEvents(*copy);
  };
  int far_behind_samples = 0;
  std::int64_t most_behind = 0;
  int samples = 0;
  int ready_while_far_behind = 0;
  std::int64_t previous = -1;
  std::string bad_sample;
  auto until = Clock::now() + 90s;
  bool caught_up = false;
  while (Clock::now() < until) {
    std::int64_t before = behind();
    testing::HttpResponse ready = testing::httpRequest(consumer.port(), "GET", "/readyz");
    std::int64_t after = behind();
    most_behind = std::max(most_behind, after);
    samples += after >= 0 ? 1 : 0;
    // LEAFSYNC_TEST_TRACE=1 prints every sample, to see the outage and the catch-up.
    if (std::getenv("LEAFSYNC_TEST_TRACE")) std::cout << "sample " << before << " " << ready.status << " " << after << "\n";
    if (previous > 2 * kMaxLag && before > 2 * kMaxLag && after > 2 * kMaxLag) {
      ++far_behind_samples;
      if (ready.status != 503) {
        ++ready_while_far_behind;
        bad_sample = std::to_string(before) + " behind: " + std::to_string(ready.status) + " " + ready.body;
      }
    }
    previous = after;
    if (held && (far_behind_samples >= 3 || Clock::now() > release_by)) {
      hold.exec("ROLLBACK");
      held = false;
    }
    if (!held && !cameras.running() && after == 0 && ready.status == 200) {
      caught_up = true;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  std::cout << "far behind in " << far_behind_samples << " of " << samples << " samples, most behind "
            << most_behind << "\n";
  EXPECT_GT(far_behind_samples, 0) << "the outage left the copy far behind (else this test shows nothing); most behind: "
                                   << most_behind << " in " << samples << " samples, revocations: "
                                   << (consumer.log().find("event=partition_revoked") != std::string::npos);
  EXPECT_EQ(ready_while_far_behind, 0) << "ready while far behind, e.g. " << bad_sample << "\n" << consumer.log();
  EXPECT_TRUE(caught_up) << "ready again once caught up\n" << consumer.log();
  EXPECT_EQ(testing::waitForIdenticalCopy(setup, 60s), "");
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
  EXPECT_EQ(producer.terminate(20s), 0) << producer.log();
}

TEST(FailLoudlyTest, ABurstTheCopyCannotCommitMakesACalmConsumerNotReadyWithinASecond) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir, 1);
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_READY_MAX_LAG", "300"}});
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  std::unique_ptr<Store> copy = openStore(setup.database_path);  // migrates: before the lock
  // Caught up and nothing moving for longer than the consumer's settle time (10 s): it asks
  // the broker for watermarks only every few seconds now, the case that looked ready.
  std::this_thread::sleep_for(12s);
  SqliteConnection hold(setup.database_path);
  hold.exec("BEGIN IMMEDIATE");  // the copy cannot commit: nothing wakes the consumer thread
  const std::string topic = setup.topic(Plant::Potato);
  testing::TestProducer producer;
  for (std::int64_t id = 1; id <= 2000; ++id) {
    producer.send(topic, EventCodec::encodeKey(id), EventCodec::encode(EventBuilder::create(id, 1)));
  }
  producer.flush();
  auto burst_at = Clock::now();
  bool not_ready = testing::eventually(
      [&] { return testing::httpRequest(consumer.port(), "GET", "/readyz").status == 503; }, 1s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - burst_at).count();
  EXPECT_TRUE(not_ready) << "2000 events behind and still ready after " << took << " ms\n"
                         << testing::httpRequest(consumer.port(), "GET", "/readyz").body;
  EXPECT_EQ(testing::committedEvents(*copy), 0);
  hold.exec("ROLLBACK");
  EXPECT_TRUE(consumer.waitReady()) << consumer.log();
  EXPECT_TRUE(testing::eventually([&] { return testing::committedEvents(*copy) == 2000; }, 30s));
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(FailLoudlyTest, APartitionBlockedBehindARowLockTurnsStalledAndRecoversWhenTheLockGoes) {
  std::string admin_url = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin_url.empty())
  testing::ScratchPostgres database(admin_url);
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  const std::string topic = setup.topic(Plant::Potato);
  testing::TestProducer producer;
  auto publish = [&](const ChangeEvent& e) { producer.send(topic, EventCodec::encodeKey(e.image.id), EventCodec::encode(e)); };
  for (std::int64_t id = 1; id <= 30; ++id) publish(EventBuilder::create(id, 1));
  producer.flush();
  std::int32_t blocked = -1;
  for (const testing::ReadMessage& m : testing::readTopic(topic, 30, 30s)) {
    if (m.key == "1") blocked = m.partition;
  }
  ASSERT_GE(blocked, 0);

  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"),
                                    {{"LEAFSYNC_DATABASE_URL", database.url()}, {"LEAFSYNC_STALL_AFTER_S", "3"}});
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(database.url()) == 30; }, 30s));
  EXPECT_EQ(stalledGauge(consumer.port(), topic, blocked), 0);

  PostgresConnection locker(database.url());
  locker.ensureOpen();
  locker.exec("BEGIN");
  locker.exec("SELECT id FROM " + imageTable(Plant::Potato) + " WHERE id = 1 FOR UPDATE");
  for (std::int64_t id = 1; id <= 30; ++id) publish(EventBuilder::update(id, 2).disease("Early blight"));
  producer.flush();

  const std::string name = topic + "/" + std::to_string(blocked);
  EXPECT_TRUE(testing::eventually([&] { return stalledGauge(consumer.port(), topic, blocked) == 1; }, 15s))
      << consumer.log();
  testing::HttpResponse ready = testing::httpRequest(consumer.port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find(name + ": stalled for"), std::string::npos) << ready.body;
  auto status = nlohmann::json::parse(testing::httpRequest(consumer.port(), "GET", "/sync-status").body);
  for (const auto& p : status["partitions"]) {
    if (p["topic"] == topic && p["partition"] == blocked) {
      EXPECT_EQ(p["stalled"], true) << p.dump();
    }
  }
  EXPECT_NE(consumer.log().find("event=partition_stalled topic=" + topic + " partition=" + std::to_string(blocked)),
            std::string::npos)
      << consumer.log();

  locker.exec("ROLLBACK");
  EXPECT_TRUE(testing::eventually([&] { return stalledGauge(consumer.port(), topic, blocked) == 0; }, 15s))
      << consumer.log();
  EXPECT_TRUE(consumer.waitReady(15s)) << consumer.log();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(FailLoudlyTest, AStopWhileTheCopyCannotBeReadNeitherBlocksTheGroupNorSkipsEvents) {
  LEAFSYNC_POSTGRES_OR_SKIP(testing::postgresTestUrl().empty())
  testing::ScriptedServer postgres(testing::ScriptedServer::Kind::Postgres);
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  // A short poll interval: a rebalance callback that waited out the outage would exceed it.
  std::ofstream(dir.file("kafka-short-poll.json"))
      << R"({"bootstrap.servers": ")" << testing::testBootstrap() << R"(", "group.id": ")" << setup.group
      << R"(", "auto.offset.reset": "earliest", "session.timeout.ms": "6000", "max.poll.interval.ms": "8000",)"
      << R"( "fetch.wait.max.ms": "50"})";
  std::map<std::string, std::string> env = {{"LEAFSYNC_DATABASE_URL", postgres.address()},
                                            {"LEAFSYNC_START_WHEN_EMPTY", "latest"},
                                            {"LEAFSYNC_STALL_AFTER_S", "3"},
                                            {"LEAFSYNC_KAFKA_PROPERTIES", dir.file("kafka-short-poll.json")}};
  testing::StreamModel model(17, 64);
  {
    testing::ConsumerProcess first(setup, dir.file("first.log"), env);
    first.start();
    std::uint16_t first_port = first.waitStarted();
    // An empty copy starting at the end stores that choice (offset 0 here) before applying.
    ASSERT_TRUE(testing::eventually(
        [&] { return testing::httpRequest(first_port, "GET", "/sync-status").body.find("\"next_offset\":0") != std::string::npos; },
        30s))
        << first.log();
    testing::publishChanges(model, 1000, setup);
    ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(postgres.address()) == 1000; }, 60s))
        << first.log();
    ASSERT_EQ(first.terminate(20s), 0) << first.log();
  }
  testing::publishChanges(model, 1000, setup);  // while no consumer runs
  postgres.stop();

  testing::ConsumerProcess blind(setup, dir.file("blind.log"), env);
  blind.start();
  std::uint16_t port = blind.waitStarted();
  // The partitions are held, their offsets unread: listed, not ready, and stalled in time.
  EXPECT_TRUE(testing::eventually(
      [&] {
        std::string body = testing::httpRequest(port, "GET", "/readyz").body;
        return body.find("stalled for") != std::string::npos;
      },
      20s))
      << blind.log();
  std::this_thread::sleep_for(6s);  // past max.poll.interval.ms since the assignment
  EXPECT_EQ(blind.log().find("poll interval"), std::string::npos) << "the rebalance callback never blocked\n"
                                                                  << blind.log();
  EXPECT_EQ(blind.terminate(10s), 0) << blind.log();

  postgres.start();
  testing::ConsumerProcess last(setup, dir.file("last.log"), env);
  last.start();
  EXPECT_TRUE(testing::eventually([&] { return testing::committedEvents(postgres.address()) == 2000; }, 60s))
      << "every event published while the copy was away is applied\n" << last.log();
  EXPECT_EQ(last.terminate(20s), 0) << last.log();
}

// A producer that takes `delay` to answer every request (503): forwarded writes wait on it.
class SlowProducer {
 public:
  explicit SlowProducer(std::chrono::milliseconds delay) : delay_(delay) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 64);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept(); });
  }
  ~SlowProducer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (std::thread& t : connections_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void accept() {
    while (!stop_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      connections_.emplace_back([this, client] {
        char buffer[4096];
        (void)::recv(client, buffer, sizeof buffer, 0);
        std::this_thread::sleep_for(delay_);
        const std::string response =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
            "Connection: close\r\n\r\n{\"detail\":\"busy\"}";
        (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
        ::close(client);
      });
    }
  }

  std::chrono::milliseconds delay_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

TEST(FailLoudlyTest, ProbesAnswerWithin100MsWhileSixteenForwardedWritesWait) {
  SlowProducer slow(3s);
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);  // 2 HTTP threads
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_PRODUCER_URL", slow.url()}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  const std::string body = EventBuilder::create(1, 1).json();
  std::vector<std::thread> writers;
  std::atomic<int> relayed{0};
  for (int i = 0; i < 16; ++i) {
    writers.emplace_back([&] {
      if (testing::httpRequest(port, "PUT", "/image-plant/potato/", body).status == 503) ++relayed;
    });
  }
  std::this_thread::sleep_for(500ms);  // the writes are on their way to the slow producer
  for (int i = 0; i < 5; ++i) {
    auto started = Clock::now();
    int status = testing::httpRequest(port, "GET", "/healthz").status;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    EXPECT_EQ(status, 200);
    EXPECT_LT(took.count(), 100) << "/healthz while writes wait";
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(relayed, 16) << "every write got the producer's answer";
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

}  // namespace
}  // namespace leafsync
