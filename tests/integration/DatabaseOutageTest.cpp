// PostgreSQL stopped for 10 s under a running consumer: it retries, keeps its place in the
// group, and finishes with an identical copy — without a restart.

#include <gtest/gtest.h>

#include <cstdlib>

#include "leafsync/EventCodec.h"
#include "leafsync/PostgresConnection.h"
#include "Verifier.h"
#include "leafsync/PostgresSourceStore.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/PostgresTier.h"
#include "support/ScriptedServer.h"
#include "support/StreamModel.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

// A PostgreSQL of this test's own, so stopping it disturbs no other test.
class OwnPostgres : public testing::ScriptedServer {
 public:
  OwnPostgres() : ScriptedServer(Kind::Postgres) {}
  std::string url() const { return address(); }
};

// A service whose database is away: the process serves (liveness), but it is not ready, and
// says that the database is why.
void expectAliveButNotReadyWithoutItsDatabase(std::uint16_t port) {
  EXPECT_EQ(testing::httpRequest(port, "GET", "/healthz").status, 200) << "alive without its database";
  testing::HttpResponse ready = testing::httpRequest(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << "not ready without its database: " << ready.body;
  EXPECT_NE(ready.body.find("database"), std::string::npos) << ready.body;
}

TEST(DatabaseOutageTest, ConsumerRidesOutAStoppedPostgresWithoutRestartAndLosesNothing) {
  LEAFSYNC_POSTGRES_OR_SKIP(!std::getenv("LEAFSYNC_TEST_POSTGRES_URL"))
  OwnPostgres postgres;
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  constexpr std::int64_t kEvents = 40000;
  testing::StreamModel model(17, 128);
  auto publish = [&](std::int64_t n) { testing::publishChanges(model, n, setup); };
  auto committed = [&] { return testing::committedEvents(postgres.url()); };
  publish(kEvents / 2);
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"),
                                    {{"LEAFSYNC_DATABASE_URL", postgres.url()}, {"LEAFSYNC_BATCH_SIZE", "200"}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  ASSERT_TRUE(testing::eventually([&] { return committed() >= kEvents / 8; }, 60s, 20ms)) << consumer.log();

  postgres.stop();
  publish(kEvents / 2);  // the stream goes on while the copy is away
  std::this_thread::sleep_for(10s);  // the outage itself, not a synchronisation
  EXPECT_TRUE(consumer.running()) << "the consumer waits out the outage";
  EXPECT_EQ(testing::httpRequest(port, "GET", "/readyz").status, 503) << "not ready without its database";
  postgres.start();

  ASSERT_TRUE(testing::eventually([&] { return committed() == kEvents; }, 120s, 100ms)) << consumer.log();
  EXPECT_TRUE(consumer.running()) << "recovered without a restart";
  PostgresStore copy(postgres.url());
  std::vector<std::string> diffs = model.differences(copy);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();
  std::string metrics = testing::httpRequest(port, "GET", "/metrics").body;
  auto value = [&](const std::string& name) {
    auto pos = metrics.find("\n" + name + " ");  // the sample line, not its # HELP line
    return pos == std::string::npos ? -1.0 : std::stod(metrics.substr(pos + name.size() + 2));
  };
  EXPECT_GT(value("leafsync_db_retries_total"), 0) << "the outage shows in the retry metric";
  EXPECT_GT(value("leafsync_db_errors_total"), 0);
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(DatabaseOutageTest, ConsumerStartedWhilePostgresIsDownServesProbesAndCatchesUpOnceItIsBack) {
  LEAFSYNC_POSTGRES_OR_SKIP(!std::getenv("LEAFSYNC_TEST_POSTGRES_URL"))
  OwnPostgres postgres;
  postgres.stop();
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  constexpr std::int64_t kEvents = 5000;
  testing::StreamModel model(23, 128);
  testing::publishChanges(model, kEvents, setup);

  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"), {{"LEAFSYNC_DATABASE_URL", postgres.url()}});
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  expectAliveButNotReadyWithoutItsDatabase(port);
  ASSERT_TRUE(testing::eventually([&] { return consumer.log().find("event=offset_read_failed") != std::string::npos; }, 30s))
      << "joined the group and is waiting for the copy's offsets\n" << consumer.log();

  postgres.start();
  auto committed = [&] { return testing::committedEvents(postgres.url()); };
  ASSERT_TRUE(testing::eventually([&] { return committed() == kEvents; }, 120s, 100ms)) << consumer.log();
  EXPECT_TRUE(consumer.waitReady(30s)) << consumer.log();
  EXPECT_TRUE(consumer.running()) << "caught up without a restart";
  PostgresStore copy(postgres.url());
  std::vector<std::string> diffs = model.differences(copy);
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences, first: " << diffs.front();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

TEST(DatabaseOutageTest, ProducerStartedWhilePostgresIsDownRefusesWritesWith503ThenServesOnceItIsBack) {
  LEAFSYNC_POSTGRES_OR_SKIP(!std::getenv("LEAFSYNC_TEST_POSTGRES_URL"))
  OwnPostgres postgres;
  postgres.stop();
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  testing::ProducerProcess producer(setup, dir.file("producer.log"), {{"LEAFSYNC_DATABASE_URL", postgres.url()}});
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  producer.start();
  consumer.start();
  std::uint16_t port = producer.waitStarted();
  const std::string create = R"({"camera_id": 3, "gps_coordinates": [48.1, 16.2], "data": "ffd8"})";
  expectAliveButNotReadyWithoutItsDatabase(port);
  testing::HttpResponse refused = testing::httpRequest(port, "PUT", "/image-plant/potato/", create);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("database is unavailable"), std::string::npos) << refused.body;

  postgres.start();
  ASSERT_TRUE(producer.waitReady(60s)) << producer.log();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(testing::httpRequest(port, "PUT", "/image-plant/potato/", create).status, 200);
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  std::vector<PlantComparison> comparison;
  EXPECT_TRUE(testing::eventually(
      [&] {
        PostgresSourceStore source(postgres.url());
        SqliteStore copy(setup.database_path);
        comparison = compareCopies(source, copy);
        return identical(comparison) && source.pendingCount() == 0;
      },
      60s, 100ms))
      << "the relay published what was written once the database was back\n" << producer.log();
  EXPECT_EQ(comparison[0].source_rows, 20);
  EXPECT_TRUE(producer.running()) << "no restart";
  EXPECT_EQ(producer.terminate(20s), 0) << producer.log();
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

}  // namespace
}  // namespace leafsync
