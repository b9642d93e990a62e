// The whole loop over the real broker and real HTTP: writes at the producer's image-api, the
// outbox relay, Kafka, the consumer, and the copy compared with the source row by row.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "leafsync/SqliteSourceStore.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::httpRequest;

class ProducerEndToEndTest : public ::testing::Test {
 protected:
  ProducerEndToEndTest()
      : setup_(dir_), producer_(setup_, dir_.file("producer.log")), consumer_(setup_, dir_.file("consumer.log")) {}

  std::string waitForIdenticalCopy(std::chrono::milliseconds deadline) {
    return testing::waitForIdenticalCopy(setup_, deadline);
  }

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ProducerProcess producer_;
  testing::ConsumerProcess consumer_;
};

TEST_F(ProducerEndToEndTest, TenThousandMixedWritesThroughTheApiLeaveAnIdenticalCopy) {
  producer_.start();
  consumer_.start();
  std::uint16_t port = producer_.waitStarted();
  ASSERT_TRUE(consumer_.waitReady()) << consumer_.log();

  std::mt19937_64 rng(2026);
  std::array<std::vector<std::int64_t>, 3> live;
  const char* plants[] = {"potato", "tomato", "pepper"};
  int failures = 0;
  for (int i = 0; i < 10000; ++i) {
    int p = static_cast<int>(rng() % 3);
    std::string base = std::string("/image-plant/") + plants[p] + "/";
    auto& ids = live[p];
    int dice = static_cast<int>(rng() % 100);
    testing::HttpResponse r;
    if (ids.empty() || dice < 30) {
      r = httpRequest(port, "PUT", base,
                      json{{"camera_id", rng() % 20}, {"gps_coordinates", {48.1, 16.2}}, {"data", "ffd8ffe000104a46"}}.dump());
      if (r.status == 200) ids.push_back(json::parse(r.body)["id"].get<std::int64_t>());
    } else if (dice < 92) {
      r = httpRequest(port, "POST", base,
                      json{{"id", ids[rng() % ids.size()]}, {"disease", "Late blight"}, {"percentage", rng() % 100}}.dump());
    } else {
      std::size_t at = rng() % ids.size();
      r = httpRequest(port, "DELETE", base + std::to_string(ids[at]));
      ids[at] = ids.back();
      ids.pop_back();
    }
    if (r.status != 200) ++failures;
  }
  EXPECT_EQ(failures, 0);
  std::string differences = waitForIdenticalCopy(60s);
  EXPECT_EQ(differences, "") << consumer_.log();
}

TEST_F(ProducerEndToEndTest, AWriteSentToTheConsumerIsReadableFromTheConsumerAtOnce) {
  producer_.start();
  std::uint16_t producer_port = producer_.waitStarted();
  testing::ConsumerProcess forwarding(setup_, dir_.file("forwarding.log"),
                                      {{"LEAFSYNC_PRODUCER_URL", "http://127.0.0.1:" + std::to_string(producer_port)}});
  forwarding.start();
  ASSERT_TRUE(forwarding.waitReady()) << forwarding.log();
  std::uint16_t port = forwarding.port();

  auto created = httpRequest(port, "PUT", "/image-plant/tomato/", R"({"camera_id": 5, "gps_coordinates": [47.07, 15.44]})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::int64_t id = json::parse(created.body)["id"].get<std::int64_t>();
  auto read = httpRequest(port, "GET", "/image-plant/tomato/" + std::to_string(id));
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body, created.body);

  auto updated = httpRequest(port, "POST", "/image-plant/tomato/", json{{"id", id}, {"disease", "Leaf mold"}}.dump());
  ASSERT_EQ(updated.status, 200);
  EXPECT_EQ(json::parse(httpRequest(port, "GET", "/image-plant/tomato/" + std::to_string(id)).body)["disease"], "Leaf mold");

  auto deleted = httpRequest(port, "DELETE", "/image-plant/tomato/" + std::to_string(id));
  EXPECT_EQ(deleted.body, R"({"message":"Image deleted successfully"})");
  EXPECT_EQ(httpRequest(port, "GET", "/image-plant/tomato/" + std::to_string(id)).status, 404);

  auto refused = httpRequest(port, "POST", "/image-plant/tomato/", R"({"id": 999999, "is_active": true})");
  EXPECT_EQ(refused.status, 404) << "the producer's refusal is relayed as it is";

  producer_.kill9();
  auto unreachable = httpRequest(port, "PUT", "/image-plant/tomato/", R"({"camera_id": 5, "gps_coordinates": [1, 2]})");
  EXPECT_EQ(unreachable.status, 502);
  EXPECT_NE(unreachable.body.find("did not answer"), std::string::npos);
}

TEST_F(ProducerEndToEndTest, KillNineTheProducerDuringALoadRunLosesNothing) {
  consumer_.start();
  ASSERT_TRUE(consumer_.waitReady()) << consumer_.log();
  testing::ServiceProcess load(testing::producerBinary(),
                               {"load", "--config", setup_.producer_config_path, "--rate", "3000", "--duration", "20",
                                "--mix", "30:60:10", "--image-bytes", "512", "--seed", "11"},
                               dir_.file("load.log"));
  load.start();
  ASSERT_TRUE(testing::eventually(
      [&] {
        SqliteSourceStore source(setup_.source_database_path);
        return source.count(Plant::Potato) > 1000;
      },
      30s));
  load.kill9();
  {
    SqliteSourceStore source(setup_.source_database_path);
    EXPECT_GT(source.count(Plant::Potato), 0);
  }
  // A restarted producer's relay publishes what the dead one left in the outbox.
  producer_.start();
  producer_.waitStarted();
  std::string differences = waitForIdenticalCopy(60s);
  EXPECT_EQ(differences, "") << producer_.log();
}

TEST_F(ProducerEndToEndTest, TheImageApiRefusesBadInputWithStatusAndReason) {
  testing::ProducerProcess secured(setup_, dir_.file("secured.log"), {{"LEAFSYNC_WRITE_TOKEN", "s3cret"}});
  secured.start();
  std::uint16_t port = secured.waitStarted();
  auto call = [&](const std::string& method, const std::string& path, const std::string& body, bool with_token = true) {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                          (with_token ? "Authorization: Bearer s3cret\r\n" : "") +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return testing::httpRaw(port, request, 5s);
  };
  struct Case {
    std::string method, path, body;
    int status;
    std::string detail;
  };
  std::vector<Case> cases = {
      {"PUT", "/image-plant/banana/", R"({"camera_id":1,"gps_coordinates":[1,2]})", 404, "unknown plant 'banana'"},
      {"DELETE", "/image-plant/potato/abc", "", 422, "positive integer"},
      {"PUT", "/image-plant/potato/", R"({"camera_id":1})", 422, "field 'gps_coordinates' is required"},
      {"PUT", "/image-plant/potato/", R"({"camera_id":"1","gps_coordinates":[1,2]})", 422, "field 'camera_id'"},
      {"PUT", "/image-plant/potato/", R"({"camera_id":1,"gps_coordinates":)", 400, "not valid JSON"},
      {"PUT", "/image-plant/potato/", R"({"camera_id":1,"gps_coordinates":[1,2],"data":")" + std::string(70000, 'a') + "\"}", 413,
       "exceeds the limit"},
      {"POST", "/image-plant/potato/", R"({"id":1,"percentage":-3})", 422, "field 'percentage' must be within [0, 100]"},
      {"POST", "/image-plant/potato/", R"({"id":424242,"is_active":true})", 404, "potato image 424242 not found"},
      {"DELETE", "/image-plant/potato/424242", "", 404, "not found"},
  };
  for (const Case& c : cases) {
    auto r = call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body;
    EXPECT_NE(r.body.find(c.detail), std::string::npos) << c.method << " " << c.path << ": " << r.body;
    EXPECT_TRUE(json::parse(r.body, nullptr, false).is_object()) << r.body;
  }
  auto anonymous = call("PUT", "/image-plant/potato/", R"({"camera_id":1,"gps_coordinates":[1,2]})", false);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.body.find("Bearer"), std::string::npos);
  EXPECT_EQ(call("PUT", "/image-plant/potato/", R"({"camera_id":1,"gps_coordinates":[1,2]})").status, 200);
  EXPECT_EQ(httpRequest(port, "GET", "/image-plant/potato/1").status, 200) << "reads stay open";
}

class DebeziumEndToEndTest : public ::testing::Test {
 protected:
  DebeziumEndToEndTest() : setup_(dir_, 3, "debezium"), consumer_(setup_, dir_.file("consumer.log")) {}

  static std::string sample(const std::string& name) {
    std::string path = std::string(LEAFSYNC_TEST_SOURCE_DIR) + "/unit/debezium/" + name;
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ConsumerProcess consumer_;
};

TEST_F(DebeziumEndToEndTest, EnvelopesFromADebeziumSourceShowUpInTheApi) {
  consumer_.start();
  ASSERT_TRUE(consumer_.waitReady()) << consumer_.log();
  testing::TestProducer producer;
  producer.send(setup_.topic(Plant::Potato), sample("create.key.json"), sample("create.value.json"));
  // One connector uses one key converter: the same key bytes keep an image in one partition.
  producer.send(setup_.topic(Plant::Potato), sample("create.key.json"), sample("update_schema.value.json"));
  producer.send(setup_.topic(Plant::Pepper), sample("read.key.json"), sample("read.value.json"));
  producer.flush();
  std::uint16_t port = consumer_.port();
  ASSERT_TRUE(testing::eventually([&] { return httpRequest(port, "GET", "/image-plant/pepper/17").status == 200; }, 20s))
      << consumer_.log();
  json after = json::parse(sample("update_schema.value.json"))["payload"]["after"];
  ASSERT_FALSE(after["disease"].is_null());
  EXPECT_TRUE(testing::eventually(
      [&] { return json::parse(httpRequest(port, "GET", "/image-plant/potato/1").body)["disease"] == after["disease"]; }, 20s))
      << "the update after the create is applied";

  producer.send(setup_.topic(Plant::Potato), sample("create.key.json"), sample("delete_full_schema.value.json"));
  producer.sendTombstone(setup_.topic(Plant::Potato), sample("create.key.json"));
  producer.flush();
  EXPECT_TRUE(testing::eventually([&] { return httpRequest(port, "GET", "/image-plant/potato/1").status == 404; }, 20s));
  EXPECT_EQ(httpRequest(port, "GET", "/image-plant/potato/total/").body, R"({"total_images":0})");
}

}  // namespace
}  // namespace leafsync
