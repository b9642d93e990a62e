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

#include "support/ConsumerProcess.h"
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
  std::string properties = dir.file("kafka.json");
  std::ifstream in(properties);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string short_wait = R"("fetch.wait.max.ms": "50")";
  ASSERT_NE(json.find(short_wait), std::string::npos) << json;
  json.replace(json.find(short_wait), short_wait.size(), R"("fetch.wait.max.ms": "5000")");
  std::ofstream(properties) << json;

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

}  // namespace
}  // namespace leafsync
