#include "FetchFocus.h"

#include <gtest/gtest.h>

namespace leafsync {
namespace {

constexpr std::int64_t kNow = 1'000'000;

PartitionStatus partition(std::int32_t number, std::int64_t next_offset, std::int64_t high_watermark,
                          std::int64_t moved_ago_ms = 0) {
  PartitionStatus p;
  p.topic = "potato";
  p.partition = number;
  p.next_offset = next_offset;
  p.high_watermark = high_watermark;
  p.progress_ms = kNow - moved_ago_ms;
  return p;
}

using Keys = std::vector<FetchFocus::Key>;

TEST(FetchFocusTest, CaughtUpPartitionsArePausedWhileAnotherCatchesUpABacklog) {
  FetchFocus focus(30'000);
  // The first refresh only learns where the broker's end is.
  EXPECT_TRUE(focus.decide({partition(0, 100, 5000), partition(1, 70, 70)}, kNow).pause.empty());
  FetchFocus::Change change = focus.decide({partition(0, 900, 5000), partition(1, 70, 70)}, kNow + 500);
  EXPECT_EQ(change.pause, (Keys{{"potato", 1}}));
  EXPECT_EQ(focus.catchingUp(), (Keys{{"potato", 0}}));
}

TEST(FetchFocusTest, APartitionAssignedBehindItsEndPausesTheCaughtUpOnesAtTheFirstDecision) {
  FetchFocus focus(30'000);
  std::vector<PartitionStatus> assigned{partition(0, 100, 5000), partition(1, 70, 70)};
  focus.assigned(assigned);
  EXPECT_EQ(focus.decide(assigned, kNow).pause, (Keys{{"potato", 1}}));
  EXPECT_EQ(focus.catchingUp(), (Keys{{"potato", 0}}));
}

TEST(FetchFocusTest, AnAssignmentKeepsWhatEarlierRefreshesSawOfPartitionsAlreadyHeld) {
  // Partition 0, held and caught up at 120, has 30 events in flight when 1 is added: they
  // arrived since the last refresh, no backlog.
  FetchFocus focus(30'000);
  focus.decide({partition(0, 120, 120)}, kNow);
  std::vector<PartitionStatus> after{partition(0, 120, 150), partition(1, 70, 70)};
  focus.assigned(after);
  EXPECT_TRUE(focus.decide(after, kNow).pause.empty());
}

TEST(FetchFocusTest, APausedPartitionIsResumedAtTheRefreshThatSeesItsNewEvents) {
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000), partition(1, 70, 70)}, kNow);
  focus.decide({partition(0, 900, 5000), partition(1, 70, 70)}, kNow);
  FetchFocus::Change change = focus.decide({partition(0, 1700, 5000), partition(1, 70, 71)}, kNow);
  EXPECT_EQ(change.resume, (Keys{{"potato", 1}}));
  EXPECT_TRUE(focus.paused().empty());
}

TEST(FetchFocusTest, EveryPartitionIsResumedOnceTheCatchUpEnds) {
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000), partition(1, 70, 70), partition(2, 9, 9)}, kNow);
  focus.decide({partition(0, 900, 5000), partition(1, 70, 70), partition(2, 9, 9)}, kNow);
  ASSERT_EQ(focus.paused().size(), 2u);
  FetchFocus::Change change =
      focus.decide({partition(0, 5000, 5000), partition(1, 70, 70), partition(2, 9, 9)}, kNow);
  EXPECT_EQ(change.resume, (Keys{{"potato", 1}, {"potato", 2}}));
  EXPECT_TRUE(focus.paused().empty());
}

TEST(FetchFocusTest, APartitionBehindOnlyByWhatArrivedSinceTheLastRefreshPausesNothing) {
  // Steady state at a high rate: every refresh finds events in flight, none older than it.
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 120), partition(1, 70, 70)}, kNow);
  EXPECT_TRUE(focus.decide({partition(0, 120, 150), partition(1, 70, 70)}, kNow).pause.empty());
  EXPECT_TRUE(focus.decide({partition(0, 150, 170), partition(1, 70, 70)}, kNow).pause.empty());
}

TEST(FetchFocusTest, AStalledPartitionPausesNothing) {
  // Behind, not moving for stall_after (its database away): the others keep being fetched.
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000, 60'000), partition(1, 70, 70)}, kNow);
  EXPECT_TRUE(focus.decide({partition(0, 100, 5000, 60'500), partition(1, 70, 70)}, kNow).pause.empty());
}

TEST(FetchFocusTest, APartitionWhosePositionIsNotKnownIsNeverPaused) {
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000), partition(1, 70, -1), partition(2, -1, 9)}, kNow);
  FetchFocus::Change change = focus.decide({partition(0, 900, 5000), partition(1, 70, -1), partition(2, -1, 9)}, kNow);
  EXPECT_TRUE(change.pause.empty());
}

TEST(FetchFocusTest, AForgottenPartitionIsNoLongerPausedNorResumed) {
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000), partition(1, 70, 70)}, kNow);
  focus.decide({partition(0, 900, 5000), partition(1, 70, 70)}, kNow);
  EXPECT_TRUE(focus.forget({"potato", 1}));
  EXPECT_FALSE(focus.forget({"potato", 1}));
  EXPECT_TRUE(focus.decide({partition(0, 5000, 5000)}, kNow).resume.empty());
}

TEST(FetchFocusTest, AResumeLibrdkafkaRefusedIsAskedAgainAtTheNextRefresh) {
  FetchFocus focus(30'000);
  focus.decide({partition(0, 100, 5000), partition(1, 70, 70)}, kNow);
  focus.decide({partition(0, 900, 5000), partition(1, 70, 70)}, kNow);
  ASSERT_EQ(focus.decide({partition(0, 5000, 5000), partition(1, 70, 70)}, kNow).resume.size(), 1u);
  focus.resumeFailed({"potato", 1});
  EXPECT_EQ(focus.decide({partition(0, 5000, 5000), partition(1, 70, 70)}, kNow).resume, (Keys{{"potato", 1}}));
}

}  // namespace
}  // namespace leafsync
