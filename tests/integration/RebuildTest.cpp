// An empty copy rebuilt from a producer snapshot, long after the topics forgot old events.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "Verifier.h"
#include "leafsync/StoreFactory.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::httpRequest;

// The same rebuild with the source and the copy in SQLite files, then in PostgreSQL.
class RebuildTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RebuildTest, EmptyCopyStartedAtTheEndRebuildsFromASnapshotWhileWritesGoOn) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  std::unique_ptr<testing::ScratchPostgres> source_db, copy_db;
  std::string source_url = "sqlite:" + setup.source_database_path;
  std::string copy_url = "sqlite:" + setup.database_path;
  if (GetParam() == "postgres") {
    LEAFSYNC_POSTGRES_OR_SKIP(testing::postgresTestUrl().empty())
    source_db = std::make_unique<testing::ScratchPostgres>(testing::postgresTestUrl());
    copy_db = std::make_unique<testing::ScratchPostgres>(testing::postgresTestUrl());
    source_url = source_db->url();
    copy_url = copy_db->url();
  }
  std::map<std::string, std::string> producer_env = {{"LEAFSYNC_DATABASE_URL", source_url}};
  testing::ProducerProcess producer(setup, dir.file("producer.log"), producer_env);
  {
    auto source_store = openSourceStore(source_url);
    SourceStore& source = *source_store;
    for (int i = 0; i < 20000; ++i) {
      source.create(kAllPlants[i % 3], NewImage{i % 40, std::string(200, static_cast<char>('a' + i % 26)), 47.1, 15.4});
    }
  }
  producer.start();
  producer.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return openSourceStore(source_url)->pendingCount() == 0; }, 60s))
      << "the 20,000 creates are published before the new copy starts";

  // The new copy starts at the end of the topics: as if retention had dropped every old event.
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"),
                                    {{"LEAFSYNC_START_WHEN_EMPTY", "latest"}, {"LEAFSYNC_DATABASE_URL", copy_url}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  // The snapshot starts once every partition of every topic is assigned and waiting for it
  // (what an operator reads from /sync-status or /readyz): events published earlier are before
  // the offset a partition starts at.
  ASSERT_TRUE(testing::eventually(
      [&] {
        auto status = nlohmann::json::parse(httpRequest(port, "GET", "/sync-status").body, nullptr, false);
        if (!status.is_object() || status["partitions"].size() != 9) return false;
        for (auto& p : status["partitions"]) {
          if (p["awaiting_snapshot"] != true) return false;
        }
        return true;
      },
      60s))
      << consumer.log();
  EXPECT_EQ(httpRequest(port, "GET", "/readyz").status, 503);

  testing::ServiceProcess load(testing::producerBinary(),
                               {"load", "--config", setup.producer_config_path, "--no-relay", "--rate", "400",
                                "--duration", "8", "--mix", "20:65:15", "--seed", "5"},
                               dir.file("load.log"), producer_env);
  testing::ServiceProcess snapshot(testing::producerBinary(),
                                   {"snapshot", "--config", setup.producer_config_path, "--no-relay", "--rate", "5000"},
                                   dir.file("snapshot.log"), producer_env);
  load.start();
  snapshot.start();
  // The rebuild lasts until the snapshot has queued its last row and marker (its summary line);
  // the process itself may take longer to exit (sanitizers check for leaks at exit).
  int ready_during_rebuild = 0;
  while (snapshot.running() && snapshot.log().find(" rows in ") == std::string::npos) {
    if (httpRequest(port, "GET", "/readyz").status == 200) ++ready_during_rebuild;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(ready_during_rebuild, 0) << "a half-built copy must not take reads";
  EXPECT_EQ(snapshot.wait(30s), 0) << snapshot.log();
  EXPECT_EQ(load.wait(30s), 0) << load.log();

  EXPECT_TRUE(testing::eventually([&] { return httpRequest(port, "GET", "/readyz").status == 200; }, 60s))
      << httpRequest(port, "GET", "/readyz").body;
  std::vector<PlantComparison> comparison;
  bool same = testing::eventually(
      [&] {
        auto source = openSourceStore(source_url);
        auto copy = openStore(copy_url);
        comparison = compareCopies(*source, *copy);
        return identical(comparison) && source->pendingCount() == 0;
      },
      60s, 200ms);
  std::ostringstream report;
  for (const auto& c : comparison) {
    report << plantName(c.plant) << ": missing " << c.missing << " extra " << c.extra << " differing " << c.differing << "\n";
    for (const auto& e : c.examples) report << "  " << e << "\n";
  }
  EXPECT_TRUE(same) << report.str();

  // The throttle held: the snapshot reports its achieved rate against the target.
  std::smatch match;
  std::string log = snapshot.log();
  ASSERT_TRUE(std::regex_search(log, match, std::regex(R"(snapshot: (\d+) rows .* \(target 5000\.0, ([-+][0-9.]+)%\))"))) << log;
  EXPECT_GE(std::stoll(match[1]), 20000 - 20000 * 15 / 100) << "every live row is in the snapshot";
  EXPECT_LE(std::abs(std::stod(match[2])), 10.0) << log;
  auto status = nlohmann::json::parse(httpRequest(port, "GET", "/sync-status").body);
  EXPECT_GE(status["snapshot_rows_applied"].get<std::int64_t>(), 1);
}

INSTANTIATE_TEST_SUITE_P(Databases, RebuildTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace leafsync
