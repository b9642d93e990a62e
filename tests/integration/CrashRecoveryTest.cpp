// kill -9 and SIGTERM against the real consumer process over the real broker.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

class CrashRecoveryTest : public ::testing::Test {
 protected:
  CrashRecoveryTest() : setup_(dir_), consumer_(setup_, dir_.file("consumer.log")) {}

  void publish(testing::StreamModel& model, std::size_t events) {
    testing::publishChanges(model, static_cast<std::int64_t>(events), setup_);
  }

  // Offsets committed in the copy, summed over all partitions: the events it has consumed.
  std::int64_t committedEvents() { return testing::committedEvents(setup_.database_path); }

  // Offsets the running process has reached, from its /sync-status: it has caught up when
  // these sum to every event published.
  std::int64_t processPosition() {
    auto response = testing::httpRequest(consumer_.port(), "GET", "/sync-status");
    if (response.status != 200) return -1;
    std::int64_t total = 0;
    nlohmann::json status = nlohmann::json::parse(response.body);
    for (auto& p : status["partitions"]) {
      if (p["next_offset"].is_number()) total += p["next_offset"].get<std::int64_t>();
    }
    return total;
  }

  double metric(const std::string& text, const std::string& name_and_labels) {
    auto pos = text.find(name_and_labels + " ");
    return pos == std::string::npos ? 0 : std::stod(text.substr(pos + name_and_labels.size() + 1));
  }

  // The copy equals the model row by row, and the process serving `port` resumed exactly where
  // the copy's offsets said: none of the events it read had been applied already, so none was
  // found stale.
  void expectExactCopyWithNothingReapplied(const testing::StreamModel& model, std::uint16_t port) {
    SqliteStore copy(setup_.database_path);
    std::vector<std::string> diffs = model.differences(copy);
    EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();
    std::string metrics = testing::httpRequest(port, "GET", "/metrics").body;
    for (Plant plant : kAllPlants) {
      EXPECT_EQ(metric(metrics, "leafsync_events_ignored_total{reason=\"stale\",topic=\"" + setup_.topic(plant) + "\"}"), 0)
          << "the restart re-applied events of " << plantName(plant);
    }
  }

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ConsumerProcess consumer_;
};

TEST_F(CrashRecoveryTest, KillNineMidStreamThenRestartLosesAndRepeatsNothing) {
  constexpr std::int64_t kEvents = 50000;
  testing::StreamModel model(42, 256);
  publish(model, kEvents);

  consumer_.start();
  for (std::int64_t kill_at : {kEvents / 5, kEvents / 2}) {
    ASSERT_TRUE(testing::eventually([&] { return committedEvents() >= kill_at; }, 60s, 2ms)) << consumer_.log();
    consumer_.kill9();
    std::int64_t at_kill = committedEvents();
    EXPECT_LT(at_kill, kEvents) << "the kill must land mid-stream";
    consumer_.start();
  }
  consumer_.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return committedEvents() == kEvents && processPosition() == kEvents; }, 30s, 20ms))
      << "committed " << committedEvents() << ", process at " << processPosition() << "\n" << consumer_.log();

  expectExactCopyWithNothingReapplied(model, consumer_.port());
  EXPECT_EQ(consumer_.terminate(10s), 0);
}

// The last `window` batches a consumer run logged (its appliers' debug lines, one per batch,
// with how many batches shared the batch's transaction): how many of them were committed in a
// transaction shared with other partitions' batches.
struct GroupCommits {
  std::int64_t batches = 0;
  std::int64_t shared = 0;
};

GroupCommits lastGroupCommitsIn(const std::string& log, std::size_t window) {
  std::vector<std::int64_t> sizes;
  const std::string key = "group_batches=";
  for (std::size_t pos = log.find("event=batch_applied"); pos != std::string::npos;
       pos = log.find("event=batch_applied", pos + 1)) {
    std::size_t end = log.find('\n', pos);
    std::size_t at = log.find(key, pos);
    if (at != std::string::npos && at < end) sizes.push_back(std::stoll(log.substr(at + key.size())));
  }
  GroupCommits seen;
  for (std::size_t i = sizes.size() > window ? sizes.size() - window : 0; i < sizes.size(); ++i) {
    ++seen.batches;
    if (sizes[i] > 1) ++seen.shared;
  }
  return seen;
}

// Nine partitions (three topics of three) in one SQLite copy: the appliers' batches commit
// together in group transactions. Each kill lands while transactions carry batches (and
// offsets) of several partitions — at least 20 of the last 50 batches before it shared theirs;
// whatever transaction was in flight committed whole or not at all, so the restart resumes at
// offsets that match the rows exactly.
TEST_F(CrashRecoveryTest, KillNineWhileGroupTransactionsSpanPartitionsLosesAndDoublesNothing) {
  constexpr std::int64_t kEvents = 60000;
  testing::StreamModel model(99, 256);
  publish(model, kEvents);
  // Small batches: many transactions, so a kill finds one in flight.
  testing::ConsumerProcess consumer(setup_, dir_.file("grouped.log"),
                                    {{"LEAFSYNC_LOG_LEVEL", "debug"}, {"LEAFSYNC_BATCH_SIZE", "100"}});
  consumer.start();
  for (std::int64_t kill_at : {kEvents / 5, kEvents / 2, 3 * kEvents / 4}) {
    ASSERT_TRUE(testing::eventually([&] { return committedEvents() >= kill_at; }, 60s, 2ms)) << consumer.log();
    std::string log = consumer.log();
    consumer.kill9();
    EXPECT_LT(committedEvents(), kEvents) << "the kill must land mid-stream";
    GroupCommits seen = lastGroupCommitsIn(log, 50);
    EXPECT_GE(seen.shared, 20)
        << "before the kill at " << kill_at << " only " << seen.shared << " of " << seen.batches
        << " batches shared a transaction with another partition's";
    consumer.start();
  }
  consumer.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return committedEvents() == kEvents; }, 60s, 20ms))
      << "committed " << committedEvents() << "\n" << consumer.log();

  expectExactCopyWithNothingReapplied(model, consumer.port());
  EXPECT_EQ(consumer.terminate(10s), 0);
}

TEST_F(CrashRecoveryTest, SigtermDrainsCommitsAndExitsZeroWithinSeconds) {
  constexpr std::int64_t kEvents = 30000;
  testing::StreamModel model(7, 256);
  publish(model, kEvents);

  consumer_.start();
  ASSERT_TRUE(testing::eventually([&] { return committedEvents() >= kEvents / 4; }, 60s, 2ms));
  std::chrono::milliseconds took{};
  EXPECT_EQ(consumer_.terminate(10s, &took), 0) << consumer_.log().substr(consumer_.log().size() > 3000 ? consumer_.log().size() - 3000 : 0);
  EXPECT_LT(took, 5s);
  EXPECT_NE(consumer_.log().find("event=stopped"), std::string::npos);

  // Whatever it applied before stopping is committed together with its offsets.
  std::int64_t committed = committedEvents();
  consumer_.start();
  consumer_.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return committedEvents() == kEvents && processPosition() == kEvents; }, 30s, 20ms))
      << "committed " << committedEvents() << ", process at " << processPosition() << "\n" << consumer_.log();
  EXPECT_GE(committedEvents(), committed);
  expectExactCopyWithNothingReapplied(model, consumer_.port());
  EXPECT_EQ(consumer_.terminate(10s), 0);
}

TEST_F(CrashRecoveryTest, SigtermBeforeTheFirstAssignmentStillExitsZero) {
  consumer_.start();
  consumer_.waitStarted();
  std::chrono::milliseconds took{};
  EXPECT_EQ(consumer_.terminate(30s, &took), 0) << consumer_.log();
  EXPECT_NE(consumer_.log().find("event=stopped"), std::string::npos);
}

}  // namespace
}  // namespace leafsync
