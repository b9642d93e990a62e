// Memory stays bounded: a consumer with the stg settings catches up a backlog far larger
// than its memory budget without its peak RSS (VmHWM of the real process) passing the
// budget, and concurrent listings over large images hold at most their byte limit each
// (docs/deploy.md, "Memory").

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "leafsync/ReadLimits.h"
#include "leafsync/SourceStore.h"
#include "leafsync/StoreFactory.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::ConsumerProcess;
using testing::ConsumerSetup;
using testing::TempDir;

constexpr std::int64_t kMiB = 1 << 20;
// The services' defaults (config/*.yaml leave them).
constexpr std::size_t kDefaultMaxResponseBytes = static_cast<std::size_t>(ReadLimits{}.max_response_bytes);
constexpr std::int64_t kDefaultLargeResponseSlots = ReadLimits{}.large_response_slots;

// config/kafka.stg.json of this source tree, on the test's broker and group.
std::map<std::string, std::string> stgEnvironment(const ConsumerSetup& setup, int budget_mb) {
  return {{"LEAFSYNC_KAFKA_PROPERTIES", std::string(LEAFSYNC_TEST_SOURCE_DIR) + "/../config/kafka.stg.json"},
          {"LEAFSYNC_BOOTSTRAP_SERVERS", testing::testBootstrap()},
          {"LEAFSYNC_GROUP_ID", setup.group},
          {"LEAFSYNC_MEMORY_BUDGET_MB", std::to_string(budget_mb)}};
}

// AddressSanitizer's shadow memory and quarantine are not the consumer's: the RSS bounds are
// checked in the plain build; the sanitizer build still runs the listings' correctness test.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

TEST(BoundedMemoryTest, StgCatchUpOfABacklogLargerThanTheBudgetStaysWithinIt) {
  if (kSanitized) GTEST_SKIP() << "RSS under AddressSanitizer is not the consumer's";
  constexpr int kBudgetMb = 96;
  constexpr std::int64_t kEvents = 60000;  // ~180 MB of 3 KiB events over 9 partitions
  TempDir dir;
  ConsumerSetup setup(dir);
  testing::StreamModel model(12, 3072);
  testing::publishChanges(model, kEvents, setup);

  ConsumerProcess consumer(setup, dir.file("consumer.log"), stgEnvironment(setup, kBudgetMb));
  consumer.start();
  consumer.waitStarted();
  const std::string url = "sqlite:" + setup.database_path;
  std::int64_t peak = 0;
  bool caught_up = testing::eventually(
      [&] {
        peak = std::max(peak, consumer.peakRssBytes());
        return testing::committedEvents(url) == kEvents;
      },
      50s, 100ms);
  peak = std::max(peak, consumer.peakRssBytes());
  ASSERT_TRUE(caught_up) << testing::committedEvents(url) << " of " << kEvents << " applied\n" << consumer.log();
  EXPECT_LE(peak, kBudgetMb * kMiB) << "peak RSS " << peak / kMiB << " MiB over the budget of " << kBudgetMb << " MiB";
  EXPECT_TRUE(model.differences(*openStore(url)).empty());
  // Planned for the 9 partitions the broker reports, not an assumed count.
  EXPECT_NE(consumer.log().find("event=memory_plan budget_mb=96 partitions=9"), std::string::npos) << consumer.log();
  EXPECT_EQ(consumer.terminate(10s), 0);
}

// One client walking the whole listing of potato from the start: every response valid JSON,
// ids rising and continuing exactly where next_after_id said, every image seen once.
struct Walk {
  std::int64_t images = 0;
  std::int64_t refused = 0;  // 503s (retried after Retry-After)
  std::string error;         // what went wrong, "" when nothing did
};

Walk walkListing(std::uint16_t port, std::int64_t expected) {
  Walk walk;
  std::int64_t after = 0;
  for (int requests = 0; requests < 10000; ++requests) {
    auto response = testing::httpRequest(port, "GET", "/image-plant/potato/?limit=1000&after_id=" + std::to_string(after));
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_discarded()) {
      walk.error = "status " + std::to_string(response.status) + ": not JSON";
      return walk;
    }
    if (response.status == 503) {
      ++walk.refused;
      if (!body.contains("detail") || response.headers.find("Retry-After") == std::string::npos) {
        walk.error = "503 without detail or Retry-After: " + response.body;
        return walk;
      }
      std::this_thread::sleep_for(100ms);
      continue;
    }
    if (response.status != 200) {
      walk.error = "status " + std::to_string(response.status) + ": " + response.body;
      return walk;
    }
    for (const auto& item : body["items"]) {
      std::int64_t id = item["id"].get<std::int64_t>();
      if (id != after + 1) {
        walk.error = "id " + std::to_string(id) + " after " + std::to_string(after);
        return walk;
      }
      after = id;
      ++walk.images;
    }
    if (body["next_after_id"].is_null()) break;
    if (body["next_after_id"].get<std::int64_t>() != after) {
      walk.error = "next_after_id " + body["next_after_id"].dump() + " but the last id is " + std::to_string(after);
      return walk;
    }
  }
  if (walk.images != expected) walk.error = std::to_string(walk.images) + " images of " + std::to_string(expected);
  return walk;
}

// `images` potato images of 700 KB (1.4 MB of hex JSON each) in the consumer's copy.
void seedLargeImages(const ConsumerSetup& setup, std::int64_t images) {
  auto copy = openStore("sqlite:" + setup.database_path);
  std::string data(700 * 1000, '\0');
  for (std::int64_t id = 1; id <= images; ++id) {
    for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(id + i);
    copy->applyBatch({testing::EventBuilder::create(id, 1).data(data)}, {});
  }
}

constexpr std::int64_t kLargeImages = 64;  // 90 MB of hex JSON: 12 pages of at most 8 MiB

// The goal of docs/deploy.md, "Memory": a listing adds at most 2 × its byte limit while it
// is sent, whatever copies the HTTP layer makes.
TEST(BoundedMemoryTest, OneListingOverLargeImagesAddsAtMostTwiceItsByteLimit) {
  if (kSanitized) GTEST_SKIP() << "RSS under AddressSanitizer is not the consumer's";
  TempDir dir;
  ConsumerSetup setup(dir);
  seedLargeImages(setup, kLargeImages);
  ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  ASSERT_EQ(testing::httpRequest(port, "GET", "/image-plant/potato/1").status, 200);
  const std::int64_t before = consumer.peakRssBytes();

  Walk walk = walkListing(port, kLargeImages);
  EXPECT_EQ(walk.error, "");
  const std::int64_t added = consumer.peakRssBytes() - before;
  const std::int64_t bound = 2 * static_cast<std::int64_t>(kDefaultMaxResponseBytes);
  EXPECT_LE(added, bound) << "one listing at a time added " << added / kMiB << " MiB, bound " << bound / kMiB << " MiB";
  EXPECT_EQ(consumer.terminate(10s), 0);
}

TEST(BoundedMemoryTest, EightConcurrentListingsOverLargeImagesStayBoundedAndContinueCorrectly) {
  if (kSanitized) GTEST_SKIP() << "RSS under AddressSanitizer is not the consumer's";
  constexpr int kClients = 8;
  TempDir dir;
  ConsumerSetup setup(dir);
  seedLargeImages(setup, kLargeImages);
  ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  ASSERT_EQ(testing::httpRequest(port, "GET", "/image-plant/potato/1").status, 200);
  const std::int64_t before = consumer.peakRssBytes();

  std::vector<Walk> walks(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back([&, c] { walks[c] = walkListing(port, kLargeImages); });
  for (auto& t : clients) t.join();

  for (const Walk& walk : walks) EXPECT_EQ(walk.error, "");
  // At most `large_response_slots` large responses are under way at once (the others get
  // 503), each adding at most 2 × its byte limit.
  const std::int64_t added = consumer.peakRssBytes() - before;
  const std::int64_t bound = std::min<std::int64_t>(kClients, kDefaultLargeResponseSlots) * 2 *
                             static_cast<std::int64_t>(kDefaultMaxResponseBytes);
  EXPECT_LE(added, bound) << "listings added " << added / kMiB << " MiB, bound " << bound / kMiB << " MiB";
  EXPECT_EQ(consumer.terminate(10s), 0);
}

TEST(BoundedMemoryTest, ListingByteLimitComesFromTheConfiguration) {
  constexpr std::int64_t kImages = 12;
  constexpr std::size_t kLimit = 3 << 20;  // two 1.4 MB images a page
  TempDir dir;
  ConsumerSetup setup(dir);
  seedLargeImages(setup, kImages);
  ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_MAX_RESPONSE_BYTES", std::to_string(kLimit)}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  auto first = testing::httpRequest(port, "GET", "/image-plant/potato/?limit=1000");
  ASSERT_EQ(first.status, 200) << first.body.substr(0, 200);
  EXPECT_LE(first.body.size(), kLimit);
  auto page = nlohmann::json::parse(first.body, nullptr, false);
  ASSERT_FALSE(page.is_discarded());
  EXPECT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["next_after_id"], 2);
  EXPECT_NE(first.headers.find("Transfer-Encoding: chunked"), std::string::npos) << first.headers;
  EXPECT_NE(first.headers.find("Content-Type: application/json"), std::string::npos) << first.headers;
  Walk walk = walkListing(port, kImages);
  EXPECT_EQ(walk.error, "");
  EXPECT_EQ(consumer.terminate(10s), 0);
}

// A client that pipelines large reads and does not read the answers: what waits for it in the
// server's write queue is at most `large_response_slots` bodies (a slot is held until its
// body is written; past that the reads get 503), each within 2 × the byte limit.
TEST(BoundedMemoryTest, APipeliningClientThatDoesNotReadHoldsAtMostTheSlotsWorthOfBodies) {
  if (kSanitized) GTEST_SKIP() << "RSS under AddressSanitizer is not the consumer's";
  constexpr int kRequests = 12;
  TempDir dir;
  ConsumerSetup setup(dir);
  seedLargeImages(setup, kLargeImages);
  ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  ASSERT_EQ(testing::httpRequest(port, "GET", "/image-plant/potato/1").status, 200);
  const std::int64_t before = consumer.peakRssBytes();

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;  // the client's receive buffer: the bodies wait on the server's side
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string requests;
  for (int i = 0; i < kRequests; ++i) {
    requests += "GET /image-plant/potato/?limit=1000&after_id=" + std::to_string(i * 5) + " HTTP/1.1\r\nHost: x\r\n" +
                (i + 1 == kRequests ? "Connection: close\r\n" : "") + "\r\n";
  }
  ASSERT_EQ(::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL), static_cast<ssize_t>(requests.size()));
  std::this_thread::sleep_for(3s);  // every request answered or queued by now
  const std::int64_t added = consumer.peakRssBytes() - before;

  std::string received;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) received.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  int ok = 0;
  int refused = 0;
  for (std::size_t at = 0; (at = received.find("HTTP/1.1 ", at)) != std::string::npos; at += 9) {
    ok += received.compare(at + 9, 3, "200") == 0;
    refused += received.compare(at + 9, 3, "503") == 0;
  }
  EXPECT_EQ(ok + refused, kRequests) << received.size() << " bytes received";
  EXPECT_EQ(ok, kDefaultLargeResponseSlots) << "slots are held until the body is written; " << received.size() << " bytes, added " << added / kMiB << " MiB";
  const std::int64_t bound = kDefaultLargeResponseSlots * 2 * static_cast<std::int64_t>(kDefaultMaxResponseBytes);
  EXPECT_LE(added, bound) << "the unread answers added " << added / kMiB << " MiB, bound " << bound / kMiB << " MiB";
  EXPECT_EQ(consumer.terminate(10s), 0);
}

// A client of HTTP/1.0 cannot read a chunked body: it gets the large listing whole, ended by
// the close of the connection.
TEST(BoundedMemoryTest, Http10ClientGetsALargeListingWholeEndedByTheClose) {
  constexpr std::int64_t kImages = 4;
  TempDir dir;
  ConsumerSetup setup(dir);
  seedLargeImages(setup, kImages);
  ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  bool closed = false;
  auto response = testing::httpRaw(port, "GET /image-plant/potato/?limit=1000 HTTP/1.0\r\n\r\n", 10s, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.find("chunked"), std::string::npos) << response.headers;
  auto page = nlohmann::json::parse(response.body, nullptr, false);
  ASSERT_FALSE(page.is_discarded()) << response.body.size() << " bytes";
  EXPECT_EQ(page["items"].size(), static_cast<std::size_t>(kImages));
  EXPECT_TRUE(page["next_after_id"].is_null());
  EXPECT_EQ(consumer.terminate(10s), 0);
}

TEST(BoundedMemoryTest, ProducerListingEndsAtTheByteLimitAndContinuesFromNextAfterId) {
  constexpr std::int64_t kImages = 24;  // 24 × 1.4 MB of hex JSON: several pages of at most 8 MiB
  TempDir dir;
  ConsumerSetup setup(dir);
  {
    auto source = openSourceStore("sqlite:" + setup.source_database_path);
    for (std::int64_t id = 1; id <= kImages; ++id) source->create(Plant::Potato, {7, std::string(700 * 1000, 'x'), 1.0, 2.0});
  }
  testing::ProducerProcess producer(setup, dir.file("producer.log"));
  producer.start();
  std::uint16_t port = producer.waitStarted();
  auto first = testing::httpRequest(port, "GET", "/image-plant/potato/?limit=1000");
  ASSERT_EQ(first.status, 200);
  EXPECT_LE(first.body.size(), kDefaultMaxResponseBytes);
  auto page = nlohmann::json::parse(first.body);
  ASSERT_GE(page["items"].size(), 1u);
  EXPECT_LT(page["items"].size(), static_cast<std::size_t>(kImages));
  EXPECT_EQ(page["next_after_id"], page["items"].back()["id"]);
  Walk walk = walkListing(port, kImages);
  EXPECT_EQ(walk.error, "");
  EXPECT_EQ(producer.terminate(10s), 0);
}

}  // namespace
}  // namespace leafsync
