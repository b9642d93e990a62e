// How PostgresStore stores images: what the server does with their bytes, which the apply
// rules (StoreBehaviourTest) cannot see. Needs LEAFSYNC_TEST_POSTGRES_URL, like the rest of the
// postgres tier.

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "leafsync/ImageTable.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresStore.h"
#include "support/EventBuilder.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"

namespace leafsync {
namespace {

using testing::EventBuilder;

// Incompressible bytes (a linear congruential sequence), large enough to be TOASTed.
std::string incompressibleImage(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  for (char& c : bytes) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return bytes;
}

class PostgresImageStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    LEAFSYNC_POSTGRES_OR_SKIP(testing::postgresTestUrl().empty())
    database_.emplace(testing::postgresTestUrl());
    db_.emplace(database_->url());
    db_->ensureOpen();
  }
  // How image `id` of potato is stored: PostgreSQL's compression method, or "none".
  std::string compressionOf(std::int64_t id) {
    return db_->execParams("SELECT coalesce(pg_column_compression(data), 'none') FROM " +
                               imageTable(Plant::Potato) + " WHERE id = $1",
                           PgParams().add(id))
        .getBytes(0, 0);
  }
  // The TOAST values of potato's live rows (their chunk_ids; a value written again gets a new
  // one), comma-separated in order.
  std::string toastValues() {
    const std::string toast =
        db_->execParams("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass",
                        PgParams().text(imageTable(Plant::Potato)))
            .getBytes(0, 0);
    return db_->execParams("SELECT coalesce(string_agg(DISTINCT chunk_id::text, ','), '') FROM " + toast, PgParams())
        .getBytes(0, 0);
  }

  std::optional<testing::ScratchPostgres> database_;
  std::optional<PostgresConnection> db_;
};

// Images arrive compressed (JPEG, PNG): the server is not to try again. A compressible one
// shows whether it tried, since pglz would have shrunk it.
TEST_F(PostgresImageStorage, AnImageIsStoredWithoutACompressionAttempt) {
  PostgresStore store(database_->url());
  store.applyBatch({EventBuilder::create(1, 1).data(std::string(8192, 'a'))}, {});
  EXPECT_EQ(compressionOf(1), "none");
  EXPECT_EQ(store.find(Plant::Potato, 1)->data, std::string(8192, 'a'));
}

// A copy made before (migrations 1 and 2 only, images compressed when they could be) stores
// its new images uncompressed once opened; the rows written before read back as they were.
TEST_F(PostgresImageStorage, ACopyOfMigrationTwoStoresNewImagesWithoutACompressionAttempt) {
  { PostgresStore store(database_->url()); }
  for (Plant plant : kAllPlants)
    db_->exec("ALTER TABLE " + imageTable(plant) + " ALTER COLUMN data SET STORAGE EXTENDED");
  db_->exec("ALTER TABLE parked_updates ALTER COLUMN data SET STORAGE EXTENDED");
  db_->exec("DELETE FROM schema_migrations WHERE component = 'copy' AND version = 3");
  db_->exec("INSERT INTO " + imageTable(Plant::Potato) +
            " (id, camera_id, data, latitude, longitude, created_at, updated_at, is_active, is_deleted,"
            " version, source_ts_ms, applied_ms) VALUES (1, 1, convert_to(repeat('a', 8192), 'UTF8'),"
            " 0, 0, '', '', false, false, 1, 0, 0)");
  ASSERT_EQ(compressionOf(1), "pglz") << "as migration 2 stored images";

  PostgresStore store(database_->url());
  store.applyBatch({EventBuilder::create(2, 1).data(std::string(8192, 'b'))}, {});
  EXPECT_EQ(compressionOf(2), "none");
  EXPECT_EQ(store.find(Plant::Potato, 1)->data, std::string(8192, 'a'));
}

// A whole-row update (Debezium's `after`) carries the image whether it changed or not; an
// unchanged one must keep the row's TOAST pointer instead of writing its chunks again.
TEST_F(PostgresImageStorage, AWholeRowUpdateWithTheSameImageWritesNoImageChunks) {
  PostgresStore store(database_->url());
  const std::string image = incompressibleImage(12000, 7);
  store.applyBatch({EventBuilder::create(1, 1).data(image)}, {});
  const std::string before = toastValues();
  ASSERT_NE(before, "") << "the image is TOASTed";

  ChangeEvent update = EventBuilder::create(1, 2).data(image).disease("Late blight").build();
  update.op = Op::Update;  // every field, as the Debezium codec decodes an update
  ASSERT_EQ(store.applyBatch({update}, {}).appliedTotal(), 1);
  EXPECT_EQ(toastValues(), before);

  ChangeEvent changed = EventBuilder::create(1, 3).data(incompressibleImage(12000, 8)).build();
  changed.op = Op::Update;
  ASSERT_EQ(store.applyBatch({changed}, {}).appliedTotal(), 1);
  EXPECT_NE(toastValues(), before) << "a changed image is written";
  EXPECT_EQ(store.find(Plant::Potato, 1)->disease, std::nullopt);
}

}  // namespace
}  // namespace leafsync
