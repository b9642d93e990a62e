#include "leafsync/SqliteStore.h"

#include "leafsync/SqliteImageRow.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

constexpr int kSchemaVersion = 1;
constexpr std::int32_t kApplicationId = 0x4C534301;  // "LSC\1": a leafsync copy

std::string createTableSql(Plant plant) {
  return "CREATE TABLE IF NOT EXISTS " + imageTable(plant) +
         " (id INTEGER PRIMARY KEY, camera_id INTEGER NOT NULL, data BLOB NOT NULL,"
         " latitude REAL NOT NULL, longitude REAL NOT NULL, created_at TEXT NOT NULL,"
         " updated_at TEXT NOT NULL, is_active INTEGER NOT NULL, is_deleted INTEGER NOT NULL,"
         " disease TEXT, percentage REAL, version INTEGER NOT NULL,"
         " tombstone INTEGER NOT NULL DEFAULT 0, source_ts_ms INTEGER NOT NULL,"
         " applied_ms INTEGER NOT NULL)";
}

const std::string kSelectColumns = std::string("SELECT ") + kImageColumns + " FROM ";

}  // namespace

struct SqliteStore::PlantStatements {
  PlantStatements(sqlite3* db, Plant plant)
      : upsert(db, "INSERT INTO " + imageTable(plant) +
                       " (id, camera_id, data, latitude, longitude, created_at, updated_at,"
                       " is_active, is_deleted, disease, percentage, version, tombstone,"
                       " source_ts_ms, applied_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?14)"
                       " ON CONFLICT(id) DO UPDATE SET camera_id = excluded.camera_id,"
                       " data = excluded.data, latitude = excluded.latitude,"
                       " longitude = excluded.longitude, created_at = excluded.created_at,"
                       " updated_at = excluded.updated_at, is_active = excluded.is_active,"
                       " is_deleted = excluded.is_deleted, disease = excluded.disease,"
                       " percentage = excluded.percentage, version = excluded.version,"
                       " tombstone = 0, source_ts_ms = excluded.source_ts_ms,"
                       " applied_ms = excluded.applied_ms"
                       " WHERE excluded.version > " + imageTable(plant) + ".version"),
        update(db, "UPDATE " + imageTable(plant) +
                       " SET camera_id = CASE WHEN ?1 & 1 THEN ?2 ELSE camera_id END,"
                       " data = CASE WHEN ?1 & 2 THEN ?3 ELSE data END,"
                       " latitude = CASE WHEN ?1 & 4 THEN ?4 ELSE latitude END,"
                       " longitude = CASE WHEN ?1 & 4 THEN ?5 ELSE longitude END,"
                       " created_at = CASE WHEN ?1 & 8 THEN ?6 ELSE created_at END,"
                       " updated_at = CASE WHEN ?1 & 16 THEN ?7 ELSE updated_at END,"
                       " is_active = CASE WHEN ?1 & 32 THEN ?8 ELSE is_active END,"
                       " is_deleted = CASE WHEN ?1 & 64 THEN ?9 ELSE is_deleted END,"
                       " disease = CASE WHEN ?1 & 128 THEN ?10 ELSE disease END,"
                       " percentage = CASE WHEN ?1 & 256 THEN ?11 ELSE percentage END,"
                       " version = ?12, source_ts_ms = ?13, applied_ms = ?14"
                       " WHERE id = ?15 AND version < ?12 AND tombstone = 0"),
        remove(db, "INSERT INTO " + imageTable(plant) +
                       " (id, camera_id, data, latitude, longitude, created_at, updated_at,"
                       " is_active, is_deleted, version, tombstone, source_ts_ms, applied_ms)"
                       " VALUES (?1, 0, x'', 0, 0, '', '', 0, 1, ?2, 1, ?3, ?4)"
                       " ON CONFLICT(id) DO UPDATE SET data = x'', version = excluded.version,"
                       " tombstone = 1, source_ts_ms = excluded.source_ts_ms,"
                       " applied_ms = excluded.applied_ms"
                       " WHERE excluded.version > " + imageTable(plant) + ".version"),
        version(db, "SELECT version, tombstone FROM " + imageTable(plant) + " WHERE id = ?1"),
        find(db, kSelectColumns + imageTable(plant) + " WHERE id = ?1 AND tombstone = 0"),
        count(db, "SELECT COUNT(*) FROM " + imageTable(plant) + " WHERE tombstone = 0"),
        list(db, kSelectColumns + imageTable(plant) +
                     " WHERE id > ?1 AND tombstone = 0 ORDER BY id LIMIT ?2") {}

  SqliteStatement upsert;
  SqliteStatement update;
  SqliteStatement remove;
  SqliteStatement version;
  SqliteStatement find;
  SqliteStatement count;
  SqliteStatement list;
};

SqliteStore::SqliteStore(const std::string& path)
    : db_(path),
      plants_{},
      // The schema must exist before any statement is prepared against it.
      begin_((migrate(), db_.handle()), "BEGIN IMMEDIATE"),
      commit_(db_.handle(), "COMMIT"),
      rollback_(db_.handle(), "ROLLBACK"),
      store_offset_(db_.handle(),
                    "INSERT INTO kafka_offsets (topic, partition, next_offset, updated_ms)"
                    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(topic, partition) DO UPDATE SET"
                    " next_offset = excluded.next_offset, updated_ms = excluded.updated_ms"
                    " WHERE excluded.next_offset > kafka_offsets.next_offset"),
      read_offset_(db_.handle(),
                   "SELECT next_offset FROM kafka_offsets WHERE topic = ?1 AND partition = ?2"),
      read_offsets_(db_.handle(),
                    "SELECT topic, partition, next_offset FROM kafka_offsets"
                    " ORDER BY topic, partition") {
  for (Plant plant : kAllPlants) {
    plants_[plantIndex(plant)] = std::make_unique<PlantStatements>(db_.handle(), plant);
  }
}

SqliteStore::~SqliteStore() = default;

void SqliteStore::migrate() {
  SqliteSchema schema{kApplicationId, kSchemaVersion, {}, "kafka_offsets", "a consumer copy"};
  for (Plant plant : kAllPlants) schema.statements.push_back(createTableSql(plant));
  schema.statements.push_back(
      "CREATE TABLE IF NOT EXISTS kafka_offsets (topic TEXT NOT NULL,"
      " partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,"
      " updated_ms INTEGER NOT NULL, PRIMARY KEY (topic, partition))");
  db_.migrate(schema);
}

ApplyCounts SqliteStore::applyBatch(const std::vector<ChangeEvent>& events,
                                    const std::vector<PartitionOffset>& offsets) {
  ApplyCounts counts;
  counts.outcomes.reserve(events.size());
  std::int64_t applied_ms = nowMillis();
  std::lock_guard<std::mutex> writer(db_.writer());
  begin_.run();
  try {
    for (const ChangeEvent& event : events) applyOne(event, applied_ms, counts);
    for (const PartitionOffset& offset : offsets) {
      store_offset_.bindText(1, offset.topic)
          .bind(2, static_cast<std::int64_t>(offset.partition))
          .bind(3, offset.next_offset)
          .bind(4, applied_ms)
          .run();
    }
    commit_.run();
  } catch (...) {
    try {
      rollback_.run();
    } catch (const StoreError&) {
      // The transaction is already gone (SQLite rolls back on some errors by itself).
    }
    throw;
  }
  return counts;
}

void SqliteStore::applyOne(const ChangeEvent& e, std::int64_t applied_ms, ApplyCounts& counts) {
  PlantStatements& s = *plants_[plantIndex(e.plant)];
  const ImageRecord& r = e.image;
  SqliteStatement* statement = nullptr;
  switch (e.op) {
    case Op::Create:
    case Op::Snapshot:
      statement = &s.upsert;
      s.upsert.bind(1, r.id)
          .bind(2, r.camera_id)
          .bindBlob(3, r.data)
          .bind(4, r.latitude)
          .bind(5, r.longitude)
          .bindText(6, r.created_at)
          .bindText(7, r.updated_at)
          .bind(8, std::int64_t{r.is_active})
          .bind(9, std::int64_t{r.is_deleted})
          .bindOptional(10, r.disease)
          .bindOptional(11, r.percentage)
          .bind(12, r.version)
          .bind(13, e.source_ts_ms)
          .bind(14, applied_ms);
      break;
    case Op::Update:
      statement = &s.update;
      s.update.bind(1, std::int64_t{e.fields})
          .bind(2, r.camera_id)
          .bindBlob(3, r.data)
          .bind(4, r.latitude)
          .bind(5, r.longitude)
          .bindText(6, r.created_at)
          .bindText(7, r.updated_at)
          .bind(8, std::int64_t{r.is_active})
          .bind(9, std::int64_t{r.is_deleted})
          .bindOptional(10, r.disease)
          .bindOptional(11, r.percentage)
          .bind(12, r.version)
          .bind(13, e.source_ts_ms)
          .bind(14, applied_ms)
          .bind(15, r.id);
      break;
    case Op::Delete:
      statement = &s.remove;
      s.remove.bind(1, r.id).bind(2, r.version).bind(3, e.source_ts_ms).bind(4, applied_ms);
      break;
  }
  statement->run();
  if (db_.changes() > 0) {
    ++counts.applied[static_cast<int>(e.op)];
    counts.outcomes.push_back(ApplyOutcome::Applied);
    return;
  }
  if (e.op != Op::Update) {
    ++counts.stale;
    counts.outcomes.push_back(ApplyOutcome::Stale);
    return;
  }
  // The rare path: find out why an update changed nothing, for the metrics.
  s.version.bind(1, r.id);
  if (!s.version.step()) {
    ++counts.missing_row;
    counts.outcomes.push_back(ApplyOutcome::MissingRow);
  } else if (s.version.columnInt(0) >= r.version) {
    ++counts.stale;
    counts.outcomes.push_back(ApplyOutcome::Stale);
  } else {
    ++counts.deleted_row;
    counts.outcomes.push_back(ApplyOutcome::DeletedRow);
  }
  s.version.reset();
}

std::optional<std::int64_t> SqliteStore::nextOffset(const std::string& topic,
                                                    std::int32_t partition) {
  read_offset_.bindText(1, topic).bind(2, static_cast<std::int64_t>(partition));
  std::optional<std::int64_t> result;
  if (read_offset_.step()) result = read_offset_.columnInt(0);
  read_offset_.reset();
  return result;
}

std::vector<PartitionOffset> SqliteStore::offsets() {
  std::vector<PartitionOffset> result;
  while (read_offsets_.step()) {
    result.push_back({read_offsets_.columnText(0),
                      static_cast<std::int32_t>(read_offsets_.columnInt(1)),
                      read_offsets_.columnInt(2)});
  }
  read_offsets_.reset();
  return result;
}

std::optional<ImageRecord> SqliteStore::find(Plant plant, std::int64_t id) {
  return findImage(plants_[plantIndex(plant)]->find, id);
}

std::int64_t SqliteStore::count(Plant plant) { return countImages(plants_[plantIndex(plant)]->count); }

std::vector<ImageRecord> SqliteStore::list(Plant plant, std::int64_t after_id, int limit) {
  return listImages(plants_[plantIndex(plant)]->list, after_id, limit);
}

std::int64_t SqliteStore::versionOf(Plant plant, std::int64_t id) {
  SqliteStatement& s = plants_[plantIndex(plant)]->version;
  s.bind(1, id);
  std::int64_t version = s.step() ? s.columnInt(0) : 0;
  s.reset();
  return version;
}

void SqliteStore::ping() { db_.exec("SELECT 1"); }

}  // namespace leafsync
