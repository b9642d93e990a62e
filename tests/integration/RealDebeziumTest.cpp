// The real Debezium PostgreSQL connector (3.6.1, Kafka Connect 4.1.1) streaming a PostgreSQL
// source with wal_level=logical into Kafka, and the real consumer applying its `format: debezium`
// topics to a PostgreSQL copy: snapshot rows, creates with images large enough to be TOASTed,
// metadata updates (under REPLICA IDENTITY DEFAULT those carry the TOAST placeholder instead of
// the unchanged image), NULL resets, image changes and deletes — the copy must end equal to
// the source row by row, with nothing dead-lettered. Potato and pepper run REPLICA IDENTITY
// FULL, tomato DEFAULT; one test per JSON converter setting (schemas or not).

#include <gtest/gtest.h>

#include <fstream>

#include "leafsync/Plant.h"
#include "leafsync/PostgresConnection.h"
#include "support/ConnectWorker.h"
#include "support/ConsumerProcess.h"
#include "support/KafkaTestKit.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

// The source tables of docs/debezium.md.
std::string sourceTableSql(const std::string& table) {
  return "CREATE TABLE public." + table +
         " (id bigint PRIMARY KEY, camera_id bigint NOT NULL, data bytea NOT NULL,"
         " latitude double precision NOT NULL, longitude double precision NOT NULL,"
         " created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL,"
         " is_active boolean NOT NULL DEFAULT false, is_deleted boolean NOT NULL DEFAULT false,"
         " disease text, percentage double precision, version bigint NOT NULL DEFAULT 1)";
}

// `bytes` of incompressible data for row `id` (md5 chains), so that 8 KB is stored out of line.
std::string imageSql(const std::string& id, int bytes) {
  return "(SELECT decode(string_agg(md5(" + id + "::text || ':' || g::text || random()::text), ''), 'hex')"
         " FROM generate_series(1, " + std::to_string(bytes / 16) + ") g)";
}

// One line per live row, the columns as the copy holds them (timestamps in its ISO text, the image
// by digest), ordered by id.
std::vector<std::string> rows(PostgresConnection& db, const std::string& table, bool copy) {
  auto time = [&](const char* column) {
    return copy ? std::string(column) : "to_char(" + std::string(column) + ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US')";
  };
  PgResult r = db.execParams("SELECT concat_ws('|', id, camera_id, md5(data), latitude::text, longitude::text, " +
                       time("created_at") + ", " + time("updated_at") +
                       ", is_active, is_deleted, quote_nullable(disease), quote_nullable(percentage::text), version)"
                       " FROM public." + table + (copy ? " WHERE NOT tombstone" : "") + " ORDER BY id", PgParams{});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.getBytes(i, 0));
  return out;
}

class RealDebeziumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_url_ = testing::postgresTestUrl();
    LEAFSYNC_POSTGRES_OR_SKIP(admin_url_.empty())
    PostgresConnection admin(admin_url_);
    admin.ensureOpen();
    ASSERT_EQ(admin.execParams("SELECT current_setting('wal_level')", PgParams{}).getBytes(0, 0), "logical")
        << "start the test PostgreSQL with LEAFSYNC_PG_WAL_LEVEL=logical (scripts/test.sh does)";
    source_ = std::make_unique<testing::ScratchPostgres>(admin_url_);
    copy_ = std::make_unique<testing::ScratchPostgres>(admin_url_);
    db_ = std::make_unique<PostgresConnection>(source_->url());
    db_->ensureOpen();
    for (Plant plant : kAllPlants) {
      std::string table = table_of(plant);
      db_->exec(sourceTableSql(table));
      db_->exec("ALTER TABLE public." + table + " REPLICA IDENTITY " + (plant == Plant::Tomato ? "DEFAULT" : "FULL"));
    }
    prefix_ = "dbz" + testing::uniqueSuffix();
    for (char& c : prefix_) if (c == '-') c = '_';  // it names the slot and the publication too
  }

  void TearDown() override {
    consumer_.reset();
    worker_.reset();
    if (!admin_url_.empty() && source_) {
      // A database with a replication slot cannot be dropped; the connector drops its own on a
      // clean stop, this is for the others.
      PostgresConnection admin(admin_url_);
      admin.ensureOpen();
      admin.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '" +
                 prefix_ + "%' AND NOT active");
    }
  }

  static std::string table_of(Plant plant) { return "image_" + std::string(plantName(plant)); }
  std::string topic(Plant plant) const { return prefix_ + ".public." + table_of(plant); }

  void insert(Plant plant, int id, int image_bytes) {
    std::string sid = std::to_string(id);
    db_->exec("INSERT INTO public." + table_of(plant) +
              " (id, camera_id, data, latitude, longitude, created_at, updated_at) VALUES (" + sid + ", " +
              std::to_string(id % 7) + ", " + imageSql(sid, image_bytes) + ", 48.476563, 16.585654, " +
              "localtimestamp, localtimestamp)");
  }

  // Starts Connect with the connector and the consumer on its topics.
  void startPipeline(bool schemas) {
    std::vector<std::string> topics;
    for (Plant plant : kAllPlants) topics.push_back(topic(plant));
    testing::createTopics(topics, 3);
    testing::createTopics({prefix_ + ".dlq"}, 1);

    std::string enable = schemas ? "true" : "false";
    std::string connector = dir_.file("source.properties");
    std::string database = source_->url().substr(source_->url().rfind('/') + 1);
    std::ofstream(connector) << "name=" << prefix_ << "\n"
                             << "connector.class=io.debezium.connector.postgresql.PostgresConnector\n"
                             << "plugin.name=pgoutput\n"
                             << "database.hostname=127.0.0.1\ndatabase.port=" << port() << "\n"
                             << "database.user=leafsync\ndatabase.password=unused\n"
                             << "database.dbname=" << database << "\n"
                             << "topic.prefix=" << prefix_ << "\n"
                             << "table.include.list=public.image_potato,public.image_tomato,public.image_pepper\n"
                             << "slot.name=" << prefix_ << "\nslot.drop.on.stop=true\n"
                             << "publication.name=" << prefix_ << "\npublication.autocreate.mode=filtered\n"
                             << "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                             << "key.converter.schemas.enable=" << enable << "\n"
                             << "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                             << "value.converter.schemas.enable=" << enable << "\n";
    worker_ = std::make_unique<testing::ConnectWorker>(dir_.file("connect"),
                                                       testing::testConnectPort() + (schemas ? 0 : 1),
                                                       std::vector<std::string>{connector});

    std::ofstream(dir_.file("kafka.json"))
        << R"({"bootstrap.servers": ")" << testing::testBootstrap() << R"(", "group.id": ")" << prefix_
        << R"(", "auto.offset.reset": "earliest", "session.timeout.ms": "6000", "fetch.wait.max.ms": "50"})";
    std::ofstream yaml(dir_.file("consumer.yaml"));
    yaml << "kafka:\n  properties: kafka.json\n  dead_letter_topic: " << prefix_ << ".dlq\ntopics:\n";
    for (Plant plant : kAllPlants) {
      yaml << "  - {name: " << topic(plant) << ", plant: " << plantName(plant) << ", format: debezium}\n";
    }
    yaml << "database:\n  url: " << copy_->url() << "\napply: {batch_size: 500, linger_ms: 10}\n"
         << "http: {port: 0, threads: 2}\n";
    yaml.close();
    consumer_ = std::make_unique<testing::ServiceProcess>(
        testing::consumerBinary(), std::vector<std::string>{"--config", dir_.file("consumer.yaml")},
        dir_.file("consumer.log"));
    consumer_->start();
    ASSERT_TRUE(consumer_->waitReady()) << consumer_->log();
  }

  std::string port() const {
    auto at = admin_url_.rfind(':');
    return admin_url_.substr(at + 1, admin_url_.find('/', at) - at - 1);
  }

  // What still differs between source and copy ("" = identical), after waiting up to `deadline`.
  std::string waitForEqualCopy(std::chrono::milliseconds deadline) {
    PostgresConnection copy(copy_->url());
    std::string differences;
    testing::eventually(
        [&] {
          differences.clear();
          try {
            copy.ensureOpen();
            for (Plant plant : kAllPlants) {
              auto want = rows(*db_, table_of(plant), false);
              auto got = rows(copy, table_of(plant), true);
              if (want == got) continue;
              differences += table_of(plant) + ": source " + std::to_string(want.size()) + " rows, copy " +
                             std::to_string(got.size()) + "\n";
              for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
                std::string w = i < want.size() ? want[i] : "-", g = i < got.size() ? got[i] : "-";
                if (w != g) {
                  differences += "  source " + w + "\n  copy   " + g + "\n";
                  break;
                }
              }
            }
          } catch (const std::exception& e) {
            differences = e.what();  // the copy's tables appear with the consumer's migration
          }
          return differences.empty();
        },
        deadline, 200ms);
    return differences;
  }

  void runChanges(bool schemas) {
    // Snapshot rows: read by the connector's initial snapshot (op r).
    int next = 1;
    for (Plant plant : kAllPlants) {
      for (int i = 0; i < 10; ++i, ++next) insert(plant, next, i % 2 ? 8192 : 64);
    }
    ASSERT_NO_FATAL_FAILURE(startPipeline(schemas));
    EXPECT_EQ(waitForEqualCopy(60s), "") << consumer_->log();

    // Streamed changes (op c, u, d and tombstones).
    for (Plant plant : kAllPlants) {
      std::string t = "public." + table_of(plant);
      for (int i = 0; i < 10; ++i, ++next) insert(plant, next, i % 2 ? 12000 : 100);
      // Metadata updates: the image is unchanged, so under DEFAULT a TOASTed one is not logged.
      db_->exec("UPDATE " + t + " SET disease = 'Late blight', percentage = 12.5 + id, is_active = true,"
                " updated_at = localtimestamp, version = version + 1 WHERE id % 3 <> 0");
      // NULL resets.
      db_->exec("UPDATE " + t + " SET disease = NULL, percentage = NULL, updated_at = localtimestamp,"
                " version = version + 1 WHERE id % 4 = 1");
      // New images, large and small.
      db_->exec("UPDATE " + t + " SET data = " + imageSql("id", 9000) + ", camera_id = camera_id + 100,"
                " version = version + 1 WHERE id % 5 = 2");
      db_->exec("UPDATE " + t + " SET data = '\\x0102', version = version + 1 WHERE id % 5 = 3");
      // Deletes, of rows with and without a TOASTed image.
      db_->exec("DELETE FROM " + t + " WHERE id % 6 = 4 OR id % 6 = 5");
    }
    EXPECT_EQ(waitForEqualCopy(60s), "") << consumer_->log();
    EXPECT_EQ(testing::readTopic(prefix_ + ".dlq", 1, 1s).size(), 0u) << "nothing is dead-lettered";
  }

  std::string admin_url_;
  testing::TempDir dir_;
  std::unique_ptr<testing::ScratchPostgres> source_;
  std::unique_ptr<testing::ScratchPostgres> copy_;
  std::unique_ptr<PostgresConnection> db_;
  std::string prefix_;
  std::unique_ptr<testing::ConnectWorker> worker_;
  std::unique_ptr<testing::ServiceProcess> consumer_;
};

TEST_F(RealDebeziumTest, ChangesStreamedWithoutSchemasLeaveACopyEqualToTheSource) { runChanges(false); }

TEST_F(RealDebeziumTest, ChangesStreamedWithSchemasLeaveACopyEqualToTheSource) { runChanges(true); }

}  // namespace
}  // namespace leafsync
