// A mixed stream over the real broker, observed through the consumer's real HTTP API.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "leafsync/ByteEncoding.h"
#include "leafsync/EventCodec.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;

class MixedStreamTest : public ::testing::Test {
 protected:
  MixedStreamTest() : setup_(dir_), consumer_(setup_, dir_.file("consumer.log")) {}

  void send(const ChangeEvent& event) {
    producer_.send(setup_.topic(event.plant), EventCodec::encodeKey(event.image.id), EventCodec::encode(event));
  }
  nlohmann::json get(const std::string& path, int expected_status = 200) {
    auto response = testing::httpRequest(consumer_.port(), "GET", path);
    EXPECT_EQ(response.status, expected_status) << path << ": " << response.body;
    return nlohmann::json::parse(response.body);
  }

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ConsumerProcess consumer_;
  testing::TestProducer producer_;
};

TEST_F(MixedStreamTest, ApiShowsExactlyTheStateTheStreamDescribes) {
  consumer_.start();
  ASSERT_TRUE(consumer_.waitReady()) << consumer_.log();

  ChangeEvent potato1 = EventBuilder::create(1, 1).data("\xff\xd8\xff\xe0potato-one").camera(4);
  send(potato1);
  send(EventBuilder::create(2, 1));
  send(EventBuilder::update(1, 2).disease("Late blight").percentage(87.5));
  send(EventBuilder::update(1, 2).disease("Late blight").percentage(87.5));  // duplicate
  send(EventBuilder::create(1, 1));                                          // replayed create
  send(EventBuilder::remove(2, 2));
  send(EventBuilder::create(2, 1));  // replayed create after the delete
  send(EventBuilder::create(1, 1, Plant::Tomato).gps(-12.5, 130.25));
  send(EventBuilder::update(1, 2, Plant::Tomato).active(true));
  send(EventBuilder::create(7, 1, Plant::Pepper));
  producer_.send(setup_.topic(Plant::Pepper), "8", "{\"op\":\"c\", this is not json");
  send(EventBuilder::create(9, 1, Plant::Pepper));  // after the bad message: the stream goes on
  producer_.sendTombstone(setup_.topic(Plant::Potato), "2");
  producer_.flush();

  // Each plant's topic has its own applier: wait until every one has applied its last event.
  auto total = [&](const char* plant) {
    auto response = testing::httpRequest(consumer_.port(), "GET", std::string("/image-plant/") + plant + "/total/");
    return response.status == 200 ? nlohmann::json::parse(response.body)["total_images"].get<int>() : -1;
  };
  auto tomatoActive = [&] {
    auto response = testing::httpRequest(consumer_.port(), "GET", "/image-plant/tomato/1");
    return response.status == 200 && nlohmann::json::parse(response.body)["is_active"] == true;
  };
  auto potatoUpdated = [&] {
    auto response = testing::httpRequest(consumer_.port(), "GET", "/image-plant/potato/1");
    return response.status == 200 && nlohmann::json::parse(response.body)["disease"] == "Late blight";
  };
  ASSERT_TRUE(testing::eventually(
      [&] { return total("pepper") == 2 && total("potato") == 1 && tomatoActive() && potatoUpdated(); }, 20s));

  nlohmann::json image = get("/image-plant/potato/1");
  EXPECT_EQ(image["id"], 1);
  EXPECT_EQ(image["camera_id"], 4);
  EXPECT_EQ(image["data"], hexEncode("\xff\xd8\xff\xe0potato-one"));
  EXPECT_EQ(image["disease"], "Late blight");
  EXPECT_EQ(image["percentage"], 87.5);
  EXPECT_EQ(image["gps_coordinates"], nlohmann::json::array({48.476563, 16.585654}));
  EXPECT_EQ(image["created_at"], "2023-10-08T15:39:49.123123");
  EXPECT_EQ(image["is_deleted"], false);

  EXPECT_EQ(get("/image-plant/potato/2", 404)["detail"], "potato image 2 not found");
  EXPECT_EQ(get("/image-plant/potato/total/")["total_images"], 1);
  EXPECT_EQ(get("/image-plant/tomato/1")["is_active"], true);
  EXPECT_EQ(get("/image-plant/tomato/1")["gps_coordinates"], nlohmann::json::array({-12.5, 130.25}));
  EXPECT_EQ(get("/image-plant/pepper/9")["id"], 9);

  auto dead = testing::readTopic(setup_.dead_letter_topic, 1, 20s);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "8");
  EXPECT_EQ(dead[0].value, "{\"op\":\"c\", this is not json");
  EXPECT_NE(dead[0].headers["leafsync.reason"].find("malformed JSON"), std::string::npos);
  EXPECT_EQ(dead[0].headers["leafsync.source.topic"], setup_.topic(Plant::Pepper));
  EXPECT_FALSE(dead[0].headers["leafsync.source.partition"].empty());
  EXPECT_FALSE(dead[0].headers["leafsync.source.offset"].empty());

  // Counted right after the batch commits, on the partition's applier thread: wait for them.
  std::string metrics;
  auto counted = [&](const std::string& sample) {
    return testing::eventually(
        [&] {
          metrics = testing::httpRequest(consumer_.port(), "GET", "/metrics").body;
          return metrics.find(sample) != std::string::npos;
        },
        10s);
  };
  EXPECT_TRUE(counted("leafsync_dead_letter_events_total{topic=\"" + setup_.topic(Plant::Pepper) + "\"} 1")) << metrics;
  EXPECT_TRUE(counted("leafsync_events_ignored_total{reason=\"stale\",topic=\"" + setup_.topic(Plant::Potato) + "\"} 3"))
      << metrics;
  EXPECT_EQ(consumer_.terminate(10s), 0);
}

}  // namespace
}  // namespace leafsync
