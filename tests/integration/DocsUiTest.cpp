// The interactive docs of both real services in a real headless Chromium
// (tests/browser/docs-ui-check.mjs): /docs renders the operations and "Try it out" on
// GET /image-plant/{plant}/total/ shows the live answer; /redoc shows it from its sidebar and
// calls no third party but for its logo.

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::httpRequest;

// What the browser check printed (its last line), or null when it failed.
json runBrowserCheck(std::uint16_t port) {
  std::string command = std::string(LEAFSYNC_TEST_SOURCE_DIR) + "/browser/docs-ui-check.sh http://127.0.0.1:" +
                        std::to_string(port) + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return nullptr;
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  std::string last = output.substr(output.find_last_of('\n', output.size() - 2) + 1);
  json seen = json::parse(last, nullptr, false);
  if (status != 0 || seen.is_discarded()) {
    ADD_FAILURE() << "browser check failed (" << status << "):\n" << output;
    return nullptr;
  }
  // A page that needed a second load passes, but what it did the first time stays in the log.
  if (seen.value("redoc_reloaded", false)) std::fprintf(stderr, "ReDoc was reloaded:\n%s", output.c_str());
  return seen;
}

class DocsUiTest : public ::testing::Test {
 protected:
  DocsUiTest() : setup_(dir_), producer_(setup_, dir_.file("producer.log")), consumer_(setup_, dir_.file("consumer.log")) {}

  testing::TempDir dir_;
  testing::ConsumerSetup setup_;
  testing::ProducerProcess producer_;
  testing::ConsumerProcess consumer_;
};

TEST_F(DocsUiTest, SwaggerUiTriesTheTotalLiveAndRedocRendersOnBothServices) {
  producer_.start();
  consumer_.start();
  std::uint16_t producer_port = producer_.waitStarted();
  ASSERT_TRUE(consumer_.waitReady()) << consumer_.log();
  // Two potato images, so the live total is not the empty copy's 0.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(httpRequest(producer_port, "PUT", "/image-plant/potato/", R"({"camera_id": 1, "gps_coordinates": [48.1, 16.2]})").status, 200);
  }
  ASSERT_TRUE(testing::eventually(
      [&] { return httpRequest(consumer_.port(), "GET", "/image-plant/potato/total/").body == R"({"total_images":2})"; }, 30s));

  for (std::uint16_t port : {producer_port, consumer_.port()}) {
    json seen = runBrowserCheck(port);
    ASSERT_FALSE(seen.is_null()) << "port " << port;
    EXPECT_GE(seen["swagger_operations"].get<int>(), 10) << seen.dump();
    EXPECT_EQ(seen["try_it_out_status"], "200") << seen.dump();
    EXPECT_EQ(json::parse(seen["try_it_out_body"].get<std::string>(), nullptr, false), json({{"total_images", 2}})) << seen.dump();
    EXPECT_NE(seen["try_it_out_url"].get<std::string>().find("/image-plant/potato/total/"), std::string::npos) << seen.dump();
    EXPECT_EQ(seen["redoc_renders_total"], true) << seen.dump();
    // ReDoc's telemetry is off: the only other origin is the one its logo comes from.
    for (const auto& origin : seen["other_origins"]) EXPECT_EQ(origin, "https://cdn.redoc.ly") << seen.dump();
  }
}

}  // namespace
}  // namespace leafsync
