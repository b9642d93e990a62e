// Partitions added while the consumer is stopped and writes go on (issue 13): an image's
// earlier partial updates wait on its old partition while its later ones land on a new one,
// which the restarted consumer applies first. Nothing may be lost.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;

constexpr std::int64_t kImages = 3000;

// Version v of image `id` changes one field of its own, so the final row shows whether every
// version reached the copy.
ChangeEvent change(std::int64_t id, std::int64_t v) {
  switch (v) {
    case 1:
      return EventBuilder::create(id, 1);
    case 2:
      return EventBuilder::update(id, 2).camera(1000 + id);
    case 3:
      return EventBuilder::update(id, 3).disease("seen at v3 #" + std::to_string(id));
    case 4:
      return EventBuilder::update(id, 4).percentage(static_cast<double>(id % 100) + 0.5);
    default:
      return EventBuilder::update(id, 5).gps(static_cast<double>(id) / 100, -1.0);
  }
}

class AddedPartitionsTest : public ::testing::Test {
 protected:
  AddedPartitionsTest() : setup_(dir_, 3), consumer_(setup_, dir_.file("consumer.log")) {}

  // A fresh producer each time: it partitions keys over the partitions the topic has now.
  void publish(std::int64_t version) {
    testing::TestProducer producer;
    for (std::int64_t id = 1; id <= kImages; ++id) {
      ChangeEvent e = change(id, version);
      producer.send(setup_.topic(Plant::Potato), EventCodec::encodeKey(id), EventCodec::encode(e));
    }
    producer.flush();
  }

  double metric(const std::string& name_and_labels) {
    std::string text = testing::httpRequest(consumer_.port(), "GET", "/metrics").body;
    auto pos = text.find(name_and_labels + " ");
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + name_and_labels.size() + 1));
  }

  std::int64_t parkedInStatus() {
    auto response = testing::httpRequest(consumer_.port(), "GET", "/sync-status");
    if (response.status != 200) return -1;
    std::int64_t total = 0;
    // Named: a range-for over a member of the temporary parse result would outlive it.
    nlohmann::json status = nlohmann::json::parse(response.body);
    for (const auto& p : status["parked_updates"]) total += p["count"].get<std::int64_t>();
    return total;
  }

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ConsumerProcess consumer_;
};

TEST_F(AddedPartitionsTest, PartialUpdatesSplitAcrossOldAndNewPartitionsAllReachTheCopy) {
  consumer_.start();
  consumer_.waitStarted();
  publish(1);
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup_.database_path) == kImages; }, 60s))
      << consumer_.log();
  ASSERT_EQ(consumer_.terminate(30s), 0) << consumer_.log();

  // Stopped: v2..v4 queue up on the three old partitions, then the topic gets three more and
  // v5 of about half the images lands on a new, short partition.
  for (std::int64_t v : {2, 3, 4}) publish(v);
  testing::addPartitions(setup_.topic(Plant::Potato), 6);
  publish(5);

  consumer_.start();
  consumer_.waitStarted();
  const std::int64_t total = 5 * kImages;
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents(setup_.database_path) == total; }, 120s))
      << testing::committedEvents(setup_.database_path) << " of " << total << "\n" << consumer_.log();
  const std::string topic = "{topic=\"" + setup_.topic(Plant::Potato) + "\"}";
  EXPECT_TRUE(testing::eventually([&] { return metric("leafsync_events_parked" + topic) == 0; }, 30s));
  EXPECT_EQ(parkedInStatus(), 0);
  EXPECT_GT(metric("leafsync_events_parked_total" + topic), 0)
      << "no v5 arrived before its v4: the test did not exercise the race";

  SqliteStore copy(setup_.database_path);
  std::int64_t wrong = 0;
  std::string first;
  for (std::int64_t id = 1; id <= kImages; ++id) {
    ImageRecord expected = change(id, 1).image;
    expected.camera_id = 1000 + id;
    expected.disease = "seen at v3 #" + std::to_string(id);
    expected.percentage = static_cast<double>(id % 100) + 0.5;
    expected.latitude = static_cast<double>(id) / 100;
    expected.longitude = -1.0;
    expected.version = 5;
    std::optional<ImageRecord> row = copy.find(Plant::Potato, id);
    if (row == expected) continue;
    if (++wrong == 1) {
      first = "image " + std::to_string(id) + ": " +
              (row ? "version " + std::to_string(row->version) + ", disease " + row->disease.value_or("null") +
                         ", percentage " + (row->percentage ? std::to_string(*row->percentage) : "null")
                   : "missing");
    }
  }
  EXPECT_EQ(wrong, 0) << "first: " << first;
  EXPECT_EQ(copy.parkedUpdates(Plant::Potato).count, 0);
  EXPECT_EQ(consumer_.terminate(30s), 0);
}

}  // namespace
}  // namespace leafsync
