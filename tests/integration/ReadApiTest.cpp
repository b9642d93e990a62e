// The consumer's HTTP API as clients see it, over real sockets.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "leafsync/EventCodec.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::httpRequest;

// One consumer for the whole suite: these tests only read.
class ReadApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    setup_ = new testing::ConsumerSetup(*dir_);
    consumer_ = new testing::ConsumerProcess(*setup_, dir_->file("consumer.log"));
    consumer_->start();
    ASSERT_TRUE(consumer_->waitReady()) << consumer_->log();
    testing::TestProducer producer;
    ChangeEvent image = EventBuilder::create(1, 1);
    producer.send(setup_->topic(Plant::Potato), "1", EventCodec::encode(image));
    producer.flush();
    ASSERT_TRUE(testing::eventually([] { return httpRequest(port(), "GET", "/image-plant/potato/1").status == 200; }, 20s));
  }
  static void TearDownTestSuite() {
    delete consumer_;
    delete setup_;
    delete dir_;
  }
  static std::uint16_t port() { return consumer_->port(); }

  static void expectError(const std::string& method, const std::string& path, int status,
                          const std::string& detail_part) {
    auto response = httpRequest(port(), method, path);
    EXPECT_EQ(response.status, status) << method << " " << path;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << method << " " << path << ": " << response.body;
    EXPECT_NE(body["detail"].get<std::string>().find(detail_part), std::string::npos)
        << method << " " << path << ": " << response.body;
  }

  inline static testing::TempDir* dir_ = nullptr;
  inline static testing::ConsumerSetup* setup_ = nullptr;
  inline static testing::ConsumerProcess* consumer_ = nullptr;
};

TEST_F(ReadApiTest, PingAnswersLikeTheSeed) {
  auto response = httpRequest(port(), "GET", "/ping");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "\"Hello, I am alive\"");
  EXPECT_NE(response.headers.find("application/json"), std::string::npos);
}

TEST_F(ReadApiTest, ImageHasTheSeedShapeInTheSeedOrder) {
  auto response = httpRequest(port(), "GET", "/image-plant/potato/1");
  ASSERT_EQ(response.status, 200);
  auto body = nlohmann::ordered_json::parse(response.body);
  std::vector<std::string> keys;
  for (auto& [key, value] : body.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "camera_id", "data", "gps_coordinates", "created_at",
                                            "updated_at", "is_active", "is_deleted", "disease", "percentage"}));
  EXPECT_TRUE(body["disease"].is_null());
}

TEST_F(ReadApiTest, TotalCountsTheImagesOfOnePlant) {
  EXPECT_EQ(httpRequest(port(), "GET", "/image-plant/potato/total/").body, R"({"total_images":1})");
  EXPECT_EQ(httpRequest(port(), "GET", "/image-plant/tomato/total/").body, R"({"total_images":0})");
}

TEST_F(ReadApiTest, ListingPagesThroughImages) {
  auto body = nlohmann::json::parse(httpRequest(port(), "GET", "/image-plant/potato/?limit=10").body);
  ASSERT_EQ(body["items"].size(), 1u);
  EXPECT_TRUE(body["next_after_id"].is_null());
  expectError("GET", "/image-plant/potato/?limit=0", 422, "limit");
  expectError("GET", "/image-plant/potato/?after_id=x", 422, "after_id");
}

TEST_F(ReadApiTest, BadRequestsGetAJsonErrorThatSaysWhatIsWrong) {
  expectError("GET", "/image-plant/banana/1", 404, "unknown plant 'banana'");
  expectError("GET", "/image-plant/banana/total/", 404, "unknown plant");
  expectError("GET", "/image-plant/potato/abc", 422, "positive integer");
  expectError("GET", "/image-plant/potato/-3", 422, "positive integer");
  expectError("GET", "/image-plant/potato/99999", 404, "potato image 99999 not found");
  expectError("GET", "/no/such/path", 404, "no route");
}

TEST_F(ReadApiTest, WritesAreRefusedWithWhereTheyGo) {
  expectError("PUT", "/image-plant/potato/", 405, "producer");
  expectError("POST", "/image-plant/potato/", 405, "producer");
  expectError("DELETE", "/image-plant/potato/1", 405, "producer");
}

TEST_F(ReadApiTest, LivenessAndReadinessAreSeparate) {
  EXPECT_EQ(httpRequest(port(), "GET", "/healthz").status, 200);
  auto ready = httpRequest(port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ready.body)["ready"], true);
  EXPECT_EQ(httpRequest(port(), "GET", "/image-plant/is-deployed/").body, R"({"is_deployed":true})");
}

TEST_F(ReadApiTest, SyncStatusReportsEveryAssignedPartition) {
  auto body = nlohmann::json::parse(httpRequest(port(), "GET", "/sync-status").body);
  EXPECT_EQ(body["partitions"].size(), 9u);
  bool potato_applied = false;
  for (auto& p : body["partitions"]) {
    if (p["topic"] == setup_->topic(Plant::Potato) && p["next_offset"] == 1) {
      potato_applied = true;
      EXPECT_EQ(p["lag"], 0);
      EXPECT_FALSE(p["last_applied_at"].is_null());
    }
  }
  EXPECT_TRUE(potato_applied) << body.dump();
}

TEST_F(ReadApiTest, Http10ClientWithoutKeepAliveIsAnsweredAndDisconnected) {
  bool closed = false;
  auto response = testing::httpRaw(port(), "GET /ping HTTP/1.0\r\n\r\n", 3s, &closed);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(closed) << "the server must close the connection, or HTTP/1.0 clients hang";
}

TEST_F(ReadApiTest, ConnectionCloseRequestIsAnsweredAndDisconnected) {
  bool closed = false;
  auto response = testing::httpRaw(port(), "GET /image-plant/potato/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3s, &closed);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(closed);
}

TEST_F(ReadApiTest, Http11ClientKeepsItsConnection) {
  bool closed = false;
  auto response = testing::httpRaw(port(), "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", 500ms, &closed);
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(closed);
  EXPECT_NE(response.headers.find("Keep-Alive"), std::string::npos) << response.headers;
}

}  // namespace
}  // namespace leafsync
