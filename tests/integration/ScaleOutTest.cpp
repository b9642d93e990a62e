// Several consumer processes in one group share the topics and one PostgreSQL copy; one dies
// with kill -9 in the middle, another joins later. Needs LEAFSYNC_TEST_POSTGRES_URL.

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "leafsync/EventCodec.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresStore.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/PostgresTier.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

TEST(ScaleOutTest, ThreeConsumersOneKilledAFourthJoiningApplyEveryEventExactlyOnce) {
  const char* admin_url = std::getenv("LEAFSYNC_TEST_POSTGRES_URL");
  LEAFSYNC_POSTGRES_OR_SKIP(!admin_url || !*admin_url)
  PostgresConnection admin(admin_url);
  admin.ensureOpen();
  std::string database = "leafsync_scaleout_" + testing::uniqueSuffix();
  admin.exec("CREATE DATABASE " + admin.escapeIdentifier(database));
  std::string copy_url = postgresUrlWithDatabase(admin_url, database);
  struct Drop {
    PostgresConnection& admin;
    std::string name;
    ~Drop() { admin.exec("DROP DATABASE IF EXISTS " + admin.escapeIdentifier(name) + " WITH (FORCE)"); }
  } drop{admin, database};

  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  constexpr std::int64_t kEvents = 100000;
  testing::StreamModel model(99, 128);
  testing::publishChanges(model, kEvents, setup);
  auto committed = [&] { return testing::committedEvents(copy_url); };
  std::map<std::string, std::string> env = {{"LEAFSYNC_DATABASE_URL", copy_url}, {"LEAFSYNC_BATCH_SIZE", "200"}};
  std::vector<std::unique_ptr<testing::ConsumerProcess>> consumers;
  for (int i = 0; i < 4; ++i) {
    consumers.push_back(std::make_unique<testing::ConsumerProcess>(setup, dir.file("consumer" + std::to_string(i) + ".log"), env));
  }
  for (int i = 0; i < 3; ++i) consumers[i]->start();
  ASSERT_TRUE(testing::eventually([&] { return committed() >= kEvents / 4; }, 120s, 20ms)) << consumers[0]->log();
  consumers[1]->kill9();
  std::int64_t at_kill = committed();
  EXPECT_LT(at_kill, kEvents) << "the kill must land mid-stream";
  ASSERT_TRUE(testing::eventually([&] { return committed() >= std::min(kEvents - 1, at_kill + kEvents / 5); }, 120s, 20ms));
  consumers[3]->start();
  ASSERT_TRUE(testing::eventually([&] { return committed() == kEvents; }, 180s, 50ms)) << committed();

  PostgresStore copy(copy_url);
  std::vector<std::string> diffs = model.differences(copy);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();

  // Partitions moved (a death, a join) and every new owner resumed at the copy's offsets: the
  // surviving processes never met an event the copy already had.
  for (int i : {0, 2, 3}) {
    consumers[i]->waitStarted();
    std::string metrics = testing::httpRequest(consumers[i]->port(), "GET", "/metrics").body;
    for (Plant plant : kAllPlants) {
      std::string name = "leafsync_events_ignored_total{reason=\"stale\",topic=\"" + setup.topic(plant) + "\"} ";
      auto pos = metrics.find(name);
      ASSERT_NE(pos, std::string::npos) << name;
      EXPECT_EQ(std::stod(metrics.substr(pos + name.size())), 0) << "consumer " << i << " " << plantName(plant);
    }
  }
  for (int i : {0, 2, 3}) EXPECT_EQ(consumers[i]->terminate(20s), 0) << consumers[i]->log();
}

}  // namespace
}  // namespace leafsync
