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

  SqliteStore copy(setup_.database_path);
  std::vector<std::string> diffs = model.differences(copy);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();

  // The last process resumed exactly where the copy's offsets said: none of the events it
  // read had been applied already, so none was found stale.
  std::string metrics = testing::httpRequest(consumer_.port(), "GET", "/metrics").body;
  for (Plant plant : kAllPlants) {
    EXPECT_EQ(metric(metrics, "leafsync_events_ignored_total{reason=\"stale\",topic=\"" + setup_.topic(plant) + "\"}"), 0)
        << plantName(plant);
  }
  EXPECT_EQ(consumer_.terminate(10s), 0);
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
  SqliteStore copy(setup_.database_path);
  std::vector<std::string> diffs = model.differences(copy);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();
  std::string metrics = testing::httpRequest(consumer_.port(), "GET", "/metrics").body;
  for (Plant plant : kAllPlants) {
    EXPECT_EQ(metric(metrics, "leafsync_events_ignored_total{reason=\"stale\",topic=\"" + setup_.topic(plant) + "\"}"), 0);
  }
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
