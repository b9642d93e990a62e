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

TEST(SyncStatusTest, EventsTheFetcherSawArriveSinceTheLastRefreshCountAsLag) {
  SyncStatus status;
  std::int64_t fetched = 100;
  status.watchFetcher([&](const std::string&, std::int32_t) { return fetched; });
  status.assigned("potato", 0, 100, false);
  status.topicJoined("potato");
  status.observed("potato", 0, 100);  // the last refresh: caught up
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 300).empty());
  fetched = 2100;  // a burst the copy has not committed, before the next refresh
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 300), "potato/0: 2000 events behind"));
  EXPECT_EQ(status.partitions().at(0).lag(), 2000);
}

TEST(SyncStatusTest, TheFetchersFigureDoesNotStandInForOneTheBrokerHasNotGivenSinceTheAssignment) {
  SyncStatus status;
  status.watchFetcher([](const std::string&, std::int32_t) { return 1100; });  // from before a crash
  status.assigned("potato", 0, 1100, false);
  status.topicJoined("potato");
  status.applied("potato", 0, 1100, 1100, 0);  // a batch, with the same stale cache
  EXPECT_EQ(status.partitions().at(0).lag(), -1);
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 300), "potato/0: position not known yet"));
  status.observed("potato", 0, 6000);
  EXPECT_EQ(status.partitions().at(0).lag(), 4900);
}

TEST(SyncStatusTest, ATopicThatLostEveryPartitionToARevocationIsNotReadyUntilItsNextAssignment) {
  SyncStatus status;
  status.assigned("potato", 0, 0, false);
  status.observed("potato", 0, 0);
  status.topicJoined("potato");
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 10).empty());
  status.revoked("potato", 0);
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 10), "holds no partitions since they were revoked"));
  status.assigned("potato", 0, 0, false);
  status.observed("potato", 0, 0);
  status.topicJoined("potato");
  EXPECT_TRUE(status.notReadyReasons({"potato"}, 10).empty());
}

TEST(SyncStatusTest, AnEmptyShareAfterLosingEveryPartitionIsNotReadyUntilTheGroupHadASessionTimeoutToHandThemBack) {
  SyncStatus status(30000, 50);
  status.assigned("potato", 0, 0, false);
  status.observed("potato", 0, 0);
  status.topicJoined("potato");
  status.revoked("potato", 0);  // the broker crashed, the session timed out
  status.topicJoined("potato");  // rejoined: the group's memory of the old membership holds them
  EXPECT_TRUE(mentions(status.notReadyReasons({"potato"}, 10), "holds no partitions since they were revoked"));
  std::this_thread::sleep_for(60ms);
  status.topicJoined("potato");  // still none a session timeout later: others hold them
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
