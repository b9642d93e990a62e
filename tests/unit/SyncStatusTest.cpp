#include "SyncStatus.h"

#include <gtest/gtest.h>

#include <thread>

#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

bool mentions(const std::vector<std::string>& reasons, const std::string& text) {
  for (const std::string& r : reasons) {
    if (r.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(SyncStatusTest, LagIsTheHighWatermarkMinusTheCopysCommittedOffset) {
  SyncStatus status;
  status.assigned("potato", 0, 100, false);
  status.topicJoined("potato");
  status.observed("potato", 0, 1600);
  EXPECT_EQ(status.partitions().at(0).lag(), 1500);
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 1000), "potato/0: 1500 events behind"));
  status.applied("potato", 0, 1500, 1600, 0);
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 1000).empty());
}

TEST(SyncStatusTest, AStaleCachedHighWatermarkDoesNotMakeAPartitionLookCaughtUp) {
  SyncStatus status;
  status.assigned("potato", 0, 100, false);
  status.topicJoined("potato");
  status.observed("potato", 0, 6000);      // the broker's answer
  status.applied("potato", 0, 1100, 1100, 0);  // a batch, with the client's stale cache
  EXPECT_EQ(status.partitions().at(0).lag(), 4900);
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 1000), "potato/0: 4900 events behind"));
}

TEST(SyncStatusTest, ATopicThatLostEveryPartitionToARevocationIsNotReadyUntilItsNextAssignment) {
  SyncStatus status;
  status.assigned("potato", 0, 0, false);
  status.observed("potato", 0, 0);
  status.topicJoined("potato");
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 10).empty());
  status.revoked("potato", 0);
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 10), "holds no partitions since they were revoked"));
  status.topicJoined("potato");  // the next rebalance gave it nothing: others hold them
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 10).empty());
}

TEST(SyncStatusTest, APartitionBehindThatDoesNotMoveTurnsStalledAndBackWhenItMoves) {
  SyncStatus status(50);
  status.assigned("potato", 1, 10, false);
  status.observed("potato", 1, 20);
  status.failed("potato", 1, "canceling statement due to lock timeout");
  EXPECT_TRUE(status.stallChanges().empty());
  std::this_thread::sleep_for(60ms);
  auto reasons = status.notReadyReasons({"potato"}, 1000);
  EXPECT_TRUE(mentions(reasons, "potato/1: stalled for")) << reasons.at(0);
  EXPECT_TRUE(mentions(reasons, "last error: canceling statement due to lock timeout"));
  auto changes = status.stallChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].stalled);
  EXPECT_TRUE(status.stallChanges().empty()) << "each change is reported once";
  status.applied("potato", 1, 15, 20, 0);
  changes = status.stallChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].stalled);
}

TEST(SyncStatusTest, ACaughtUpPartitionIsNeverStalled) {
  SyncStatus status(20);
  status.assigned("potato", 0, 20, false);
  status.observed("potato", 0, 20);
  std::this_thread::sleep_for(30ms);
  status.observed("potato", 0, 25);  // new events: the stall clock starts now, not at the assignment
  EXPECT_FALSE(status.partitions().at(0).stalled(nowMillis(), 20));
}

TEST(SyncStatusTest, APartitionWhoseOffsetCouldNotBeReadIsNotReady) {
  SyncStatus status;
  status.assigned("potato", 2, -1, false);
  status.failed("potato", 2, "connection refused");
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 1000), "potato/2: the copy's offset could not be read yet (connection refused)"));
}

}  // namespace
}  // namespace leafsync
