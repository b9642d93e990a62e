// What a consumer process holds of Kafka and how often it wakes when nothing happens: one
// KafkaConsumer for every topic plus the dead-letter producer, appliers that wait for their
// partition's next message instead of polling it ten times a second, and broker queries that
// do not queue behind the fetch parked on the consumer's connection.

#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "leafsync/EventCodec.h"
#include "leafsync/Timestamp.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

struct ThreadSample {
  std::string name;
  long switches = 0;  // voluntary context switches: one per wait that ended
};

// Every thread of `pid` by id: its name (librdkafka names its own rdk:main, rdk:broker<id>, …)
// and its voluntary context switches so far.
std::map<std::string, ThreadSample> threads(pid_t pid) {
  std::map<std::string, ThreadSample> result;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, int (*)(DIR*)> tasks(opendir(dir.c_str()), closedir);
  if (!tasks) return result;
  while (dirent* entry = readdir(tasks.get())) {
    std::string tid = entry->d_name;
    if (tid == "." || tid == "..") continue;
    ThreadSample sample;
    std::ifstream(dir + "/" + tid + "/comm") >> sample.name;
    std::ifstream status(dir + "/" + tid + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) sample.switches = std::stol(line.substr(24));
    }
    result[tid] = sample;
  }
  return result;
}

bool isKafkaThread(const std::string& name) { return name.rfind("rdk:", 0) == 0; }

// The setup's kafka.json with its short fetch.wait.max.ms replaced by `properties`.
void replaceFetchWait(const testing::TempDir& dir, const std::string& properties) {
  std::string path = dir.file("kafka.json");
  std::ifstream in(path);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string short_wait = R"("fetch.wait.max.ms": "50")";
  ASSERT_NE(json.find(short_wait), std::string::npos) << json;
  json.replace(json.find(short_wait), short_wait.size(), properties);
  std::ofstream(path) << json;
}

TEST(KafkaClientsTest, AConsumerProcessRunsOneKafkaConsumerForAllTopicsBesideItsDeadLetterProducer) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);  // three topics
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  int clients = 0;  // librdkafka starts one rdk:main thread per client
  for (const auto& [tid, thread] : threads(consumer.pid())) clients += thread.name == "rdk:main" ? 1 : 0;
  EXPECT_EQ(clients, 2) << "one consumer for the three topics and the dead-letter producer";
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(KafkaClientsTest, AnIdleConsumersOwnThreadsWakeLessThanOnceASecondEach) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  testing::StreamModel model(7, 32);
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  testing::publishChanges(model, 300, setup);  // every partition gets an applier and some work
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup.database_path) == 300; }, 60s))
      << consumer.log();
  std::this_thread::sleep_for(12s);  // past the consumer's busy refreshes after the last commit

  constexpr auto kWindow = 10s;
  auto before = threads(consumer.pid());
  std::this_thread::sleep_for(kWindow);
  auto after = threads(consumer.pid());
  long wakes = 0;
  int ours = 0;
  std::ostringstream detail;
  for (const auto& [tid, thread] : after) {
    if (isKafkaThread(thread.name) || !before.count(tid)) continue;
    long woke = thread.switches - before[tid].switches;
    wakes += woke;
    ++ours;
    detail << thread.name << "/" << tid << ": " << woke << "\n";
  }
  // Nine appliers, the poller and the HTTP threads: at a 100 ms poll the appliers alone woke
  // 900 times in the window.
  EXPECT_LT(wakes, ours * 10) << ours << " threads woke " << wakes << " times in 10 s:\n" << detail.str();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(KafkaClientsTest, ALongFetchWaitDelaysNeitherReadinessNorTheStop) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  // An idle partition's Fetch parks on the broker for fetch.wait.max.ms, and a broker answers
  // a connection's requests in order: a ListOffsets on the consumer's own connection waited
  // it out (ready 5.0 s after the assignment, SIGTERM to exit 1.9 s, and twice a destroy
  // that never ended, in runs by hand).
  replaceFetchWait(dir, R"("fetch.wait.max.ms": "5000")");

  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  ASSERT_TRUE(testing::eventually([&] { return consumer.log().find("event=partition_assigned") != std::string::npos; },
                                  30s, 20ms))
      << consumer.log();
  auto assigned_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  auto ready_after = std::chrono::steady_clock::now() - assigned_at;
  EXPECT_LT(ready_after, 2500ms) << "ready "
                                 << std::chrono::duration_cast<std::chrono::milliseconds>(ready_after).count()
                                 << " ms after the assignment\n" << consumer.log();
  std::this_thread::sleep_for(3s);  // every partition's Fetch parked
  std::chrono::milliseconds took{0};
  EXPECT_EQ(consumer.terminate(20s, &took), 0) << consumer.log();
  EXPECT_LT(took, 1500ms) << "SIGTERM to exit took " << took.count() << " ms\n" << consumer.log();
}

TEST(KafkaClientsTest, CaughtUpPartitionsDoNotHoldBackACatchUpUnderALongFetchWait) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  // Small prefetch queues, as under a memory budget: each fetch fills a catching-up
  // partition's queue, so the next one leaves it out. With only caught-up partitions left in
  // it, the broker parked that fetch for fetch.wait.max.ms, and librdkafka 2.0.2 sends no other
  // meanwhile: the backlog below took 54 and 70 s to catch up, a parked fetch every few
  // 64 KiB; with the caught-up partitions paused (FetchFocus) 11 and 16 s.
  replaceFetchWait(dir, R"("fetch.wait.max.ms": "5000", "queued.max.messages.kbytes": "64",)"
                        R"( "max.partition.fetch.bytes": "65536")");
  testing::StreamModel model(11, 4096);
  testing::TestProducer producer;
  std::int64_t backlog = 0;  // potato only: its three partitions behind, the other six caught up
  while (backlog < 4500) {
    ChangeEvent e = model.next();
    if (e.plant != Plant::Potato) continue;
    producer.send(setup.topic(e.plant), EventCodec::encodeKey(e.image.id), EventCodec::encode(e));
    ++backlog;
  }
  producer.flush();

  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  auto started = std::chrono::steady_clock::now();
  consumer.start();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup.database_path) == backlog; }, 240s))
      << consumer.log();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 35s) << "the catch-up took "
                       << std::chrono::duration_cast<std::chrono::seconds>(took).count() << " s\n" << consumer.log();
  // Focused from the assignment's own ListOffsets, before the first fetch can be parked for the
  // caught-up partitions; the refreshes alone focus it at the second one, 500 ms or more later.
  std::string log = consumer.log();
  std::size_t focused = log.find("event=fetch_focused");
  ASSERT_NE(focused, std::string::npos) << log;
  std::size_t assigned = log.rfind("event=partition_assigned", focused);
  ASSERT_NE(assigned, std::string::npos) << log;
  auto line_micros = [&](std::size_t at) {
    std::size_t ts = log.rfind("ts=", at) + 3;
    return parseIsoMicros(log.substr(ts, log.find(' ', ts) - ts)).value_or(0);
  };
  EXPECT_LT(line_micros(focused) - line_micros(assigned), 300'000) << log;
  ASSERT_TRUE(testing::eventually(
      [&] { return consumer.log().find("event=fetch_unfocused") != std::string::npos; }, 10s))
      << consumer.log();

  // Resumed: a caught-up partition takes a new event as soon as it arrives.
  std::string status = testing::httpRequest(consumer.port(), "GET", "/sync-status").body;
  EXPECT_EQ(status.find(R"("fetch_paused":true)"), std::string::npos) << status;
  std::int64_t more = 0;
  while (more < 20) {
    ChangeEvent e = model.next();
    if (e.plant == Plant::Potato) continue;
    producer.send(setup.topic(e.plant), EventCodec::encodeKey(e.image.id), EventCodec::encode(e));
    ++more;
  }
  producer.flush();
  EXPECT_TRUE(testing::eventually(
      [&] { return testing::committedEvents(setup.database_path) == backlog + more; }, 5s))
      << consumer.log();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

}  // namespace
}  // namespace leafsync
