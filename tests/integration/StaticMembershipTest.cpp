// Static membership (LEAFSYNC_GROUP_INSTANCE_ID, as a StatefulSet's pod name gives it): a
// consumer killed and restarted within the session timeout takes back its own partitions and
// the rest of the group never moves.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "leafsync/EventCodec.h"
#include "leafsync/StoreFactory.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

std::set<std::string> assignedPartitions(testing::ServiceProcess& consumer) {
  auto response = testing::httpRequest(consumer.port(), "GET", "/sync-status");
  std::set<std::string> partitions;
  if (response.status != 200) return partitions;
  nlohmann::json status = nlohmann::json::parse(response.body);
  for (const auto& p : status["partitions"]) {
    partitions.insert(p["topic"].get<std::string>() + "/" + std::to_string(p["partition"].get<int>()));
  }
  return partitions;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(StaticMembershipTest, AConsumerRestartedWithinTheSessionTimeoutTakesBackItsPartitionsAndNothingElseMoves) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);  // session.timeout.ms 6000
  testing::StreamModel model(41, 64);
  auto publish = [&](int n) { testing::publishChanges(model, n, setup); };
  // Both processes share the copy (SQLite in WAL mode takes writers of several processes).
  testing::ConsumerProcess a(setup, dir.file("a.log"), {{"LEAFSYNC_GROUP_INSTANCE_ID", "leafsync-a"}});
  testing::ConsumerProcess b(setup, dir.file("b.log"), {{"LEAFSYNC_GROUP_INSTANCE_ID", "leafsync-b"}});
  a.start();
  b.start();
  a.waitStarted();
  b.waitStarted();
  // Every topic split between the two (the first to join holds them all until the other joins).
  auto split = [&] {
    std::set<std::string> of_a = assignedPartitions(a), of_b = assignedPartitions(b);
    return of_a.size() + of_b.size() == 9 && of_a.size() >= 3 && of_b.size() >= 3;
  };
  ASSERT_TRUE(testing::eventually(split, 60s)) << a.log() << b.log();
  publish(3000);
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup.database_path) == 3000; }, 60s));
  std::set<std::string> a_before = assignedPartitions(a);
  std::set<std::string> b_before = assignedPartitions(b);
  std::size_t b_assignments = count(b.log(), "event=partition_assigned");

  a.kill9();
  publish(3000);  // a's partitions wait for it: no one else takes them
  a.start();
  a.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup.database_path) == 6000; }, 60s))
      << a.log();
  EXPECT_EQ(assignedPartitions(a), a_before) << "the restarted member got its own partitions back";
  std::this_thread::sleep_for(8s);  // past the session timeout: the old member is not evicted later
  EXPECT_EQ(assignedPartitions(b), b_before);
  EXPECT_EQ(count(b.log(), "event=partition_assigned"), b_assignments) << "nothing moved to the other member\n"
                                                                          << b.log();
  std::vector<std::string> diffs = model.differences(*openStore(setup.database_path));
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();
  EXPECT_EQ(a.terminate(20s), 0) << a.log();
  EXPECT_EQ(b.terminate(20s), 0) << b.log();
}

}  // namespace
}  // namespace leafsync
