#include "leafsync/SqliteSourceStore.h"

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteImageRow.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

constexpr int kSchemaVersion = 2;  // 2: the (id, updated_at) index of each image table
constexpr std::int32_t kApplicationId = 0x4C535301;  // "LSS\1": a leafsync source


}  // namespace

struct SqliteSourceStore::PlantStatements {
  PlantStatements(sqlite3* db, Plant plant)
      : insert(db, "INSERT INTO " + imageTable(plant) +
                       " (camera_id, data, latitude, longitude, created_at, updated_at, is_active,"
                       " is_deleted, disease, percentage, version)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, 0, NULL, NULL, 1)"),
        update_meta(db, "UPDATE " + imageTable(plant) +
                            " SET camera_id = ?2, latitude = ?3, longitude = ?4, updated_at = ?5,"
                            " is_active = ?6, is_deleted = ?7, disease = ?8, percentage = ?9,"
                            " version = ?10 WHERE id = ?1"),
        update_data(db, "UPDATE " + imageTable(plant) + " SET data = ?2 WHERE id = ?1"),
        remove(db, "DELETE FROM " + imageTable(plant) + " WHERE id = ?1"),
        find(db, std::string("SELECT ") + kImageColumns + " FROM " + imageTable(plant) + " WHERE id = ?1"),
        count(db, "SELECT COUNT(*) FROM " + imageTable(plant)),
        list(db, std::string("SELECT ") + kImageColumns + " FROM " + imageTable(plant) +
                     " WHERE id > ?1 ORDER BY id LIMIT ?2") {}

  SqliteStatement insert;
  SqliteStatement update_meta;
  SqliteStatement update_data;
  SqliteStatement remove;
  SqliteStatement find;
  SqliteStatement count;
  SqliteStatement list;
};

// BEGIN IMMEDIATE … COMMIT, rolled back if the scope is left by an exception; this process's
// writers of the file take turns (SqliteConnection::writer).
class SqliteSourceStore::Transaction {
 public:
  explicit Transaction(SqliteSourceStore& store) : store_(store), writer_(store.db_.writer()) {
    store_.begin_.run();
  }
  ~Transaction() {
    if (done_) return;
    try {
      store_.rollback_.run();
    } catch (const StoreError&) {
      // Already rolled back by SQLite itself.
    }
  }
  void commit() {
    store_.commit_.run();
    done_ = true;
  }

 private:
  SqliteSourceStore& store_;
  std::lock_guard<std::mutex> writer_;
  bool done_ = false;
};

SqliteSourceStore::SqliteSourceStore(const std::string& path)
    : db_(path),
      // The schema must exist before any statement is prepared against it.
      begin_((migrate(), db_.handle()), "BEGIN IMMEDIATE"),
      commit_(db_.handle(), "COMMIT"),
      rollback_(db_.handle(), "ROLLBACK"),
      insert_outbox_(db_.handle(),
                     "INSERT INTO outbox (plant, image_id, value, created_ms) VALUES (?1, ?2, ?3, ?4)"),
      read_outbox_(db_.handle(),
                   "SELECT seq, plant, image_id, value, created_ms FROM outbox WHERE seq > ?2 ORDER BY seq LIMIT ?1"),
      delete_outbox_(db_.handle(), "DELETE FROM outbox WHERE seq <= ?1"),
      count_outbox_(db_.handle(), "SELECT COUNT(*) FROM outbox") {
  for (Plant plant : kAllPlants) {
    plants_[plantIndex(plant)] = std::make_unique<PlantStatements>(db_.handle(), plant);
  }
}

SqliteSourceStore::~SqliteSourceStore() = default;

bool SqliteSourceStore::holdsSource(const std::string& path) { return sqliteFileHolds(path, kApplicationId, "outbox"); }

void SqliteSourceStore::migrate() {
  SqliteSchema schema{kApplicationId, kSchemaVersion, {}, "outbox", "a producer source"};
  for (Plant plant : kAllPlants) {
    schema.statements.push_back("CREATE TABLE IF NOT EXISTS " + imageTable(plant) +
                                " (id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id INTEGER NOT NULL,"
                                " data BLOB NOT NULL, latitude REAL NOT NULL, longitude REAL NOT NULL,"
                                " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, is_active INTEGER NOT NULL,"
                                " is_deleted INTEGER NOT NULL, disease TEXT, percentage REAL,"
                                " version INTEGER NOT NULL)");
    // A watermark reader (the batch baseline, like any db_synchronizer_job) pages by id and
    // filters on updated_at: from this index it reads both without the rows, whose images
    // would otherwise be read from the file for every row just to be filtered out.
    schema.statements.push_back("CREATE INDEX IF NOT EXISTS " + imageTable(plant) + "_id_updated_at ON " +
                                imageTable(plant) + " (id, updated_at)");
  }
  schema.statements.push_back(
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " plant INTEGER NOT NULL, image_id INTEGER NOT NULL, value BLOB NOT NULL,"
      " created_ms INTEGER NOT NULL)");
  db_.migrate(schema);
}

void SqliteSourceStore::enqueue(const ChangeEvent& event) {
  enqueueValue(event.plant, event.image.id, EventCodec::encode(event), event.source_ts_ms);
}

void SqliteSourceStore::enqueueValue(Plant plant, std::int64_t image_id, const std::string& value, std::int64_t ts_ms) {
  insert_outbox_.bind(1, static_cast<std::int64_t>(plantIndex(plant)))
      .bind(2, image_id)
      .bindBlob(3, value)
      .bind(4, ts_ms)
      .run();
}

std::vector<std::int64_t> SqliteSourceStore::enqueueSnapshot(Plant plant, std::int64_t after_id, int limit) {
  std::vector<std::int64_t> ids;
  Transaction tx(*this);
  std::int64_t now_ms = nowMillis();
  for (const ImageRecord& row : list(plant, after_id, limit)) {
    ChangeEvent event;
    event.op = Op::Snapshot;
    event.plant = plant;
    event.source_ts_ms = now_ms;
    event.fields = kAllFields;
    event.image = row;
    enqueue(event);
    ids.push_back(row.id);
  }
  tx.commit();
  return ids;
}

void SqliteSourceStore::enqueueSnapshotEnd(Plant plant, std::int64_t rows) {
  SnapshotMarker marker{plant, rows, nowMillis()};
  Transaction tx(*this);
  enqueueValue(plant, 0, EventCodec::encodeMarker(marker), marker.source_ts_ms);
  tx.commit();
}

ImageRecord SqliteSourceStore::create(Plant plant, const NewImage& image) {
  PlantStatements& s = *plants_[plantIndex(plant)];
  std::int64_t now_us = nowMicros();
  std::string now = isoTimestamp(now_us);
  Transaction tx(*this);
  s.insert.bind(1, image.camera_id)
      .bindBlob(2, image.data)
      .bind(3, image.latitude)
      .bind(4, image.longitude)
      .bindText(5, now)
      .run();
  ChangeEvent event = createdEvent(plant, db_.lastInsertRowid(), image, now_us, now);
  enqueue(event);
  tx.commit();
  return event.image;
}

std::optional<ImageRecord> SqliteSourceStore::update(Plant plant, const ImageChange& change) {
  PlantStatements& s = *plants_[plantIndex(plant)];
  Transaction tx(*this);
  s.find.bind(1, change.id);
  std::optional<ImageRecord> found;
  if (s.find.step()) found = readImageRow(s.find);
  s.find.reset();
  if (!found) return std::nullopt;

  std::uint32_t changed = changedFields(*found, change);
  if (changed == 0) {
    tx.commit();
    return found;
  }
  std::int64_t now_us = nowMicros();
  ImageRecord r = withChange(*found, change, changed, isoTimestamp(now_us));

  s.update_meta.bind(1, r.id)
      .bind(2, r.camera_id)
      .bind(3, r.latitude)
      .bind(4, r.longitude)
      .bindText(5, r.updated_at)
      .bind(6, std::int64_t{r.is_active})
      .bind(7, std::int64_t{r.is_deleted})
      .bindOptional(8, r.disease)
      .bindOptional(9, r.percentage)
      .bind(10, r.version)
      .run();
  if (changed & kData) s.update_data.bind(1, r.id).bindBlob(2, r.data).run();

  ChangeEvent event;
  event.op = Op::Update;
  event.plant = plant;
  event.source_ts_ms = now_us / 1000;
  event.fields = changed | kUpdatedAt;
  event.image = r;
  enqueue(event);
  tx.commit();
  return r;
}

std::optional<std::int64_t> SqliteSourceStore::remove(Plant plant, std::int64_t id) {
  PlantStatements& s = *plants_[plantIndex(plant)];
  Transaction tx(*this);
  s.find.bind(1, id);
  std::optional<std::int64_t> version;
  if (s.find.step()) version = s.find.columnInt(11) + 1;
  s.find.reset();
  if (!version) return std::nullopt;
  s.remove.bind(1, id).run();
  ChangeEvent event;
  event.op = Op::Delete;
  event.plant = plant;
  event.source_ts_ms = nowMillis();
  event.image.id = id;
  event.image.version = *version;
  enqueue(event);
  tx.commit();
  return version;
}

std::optional<ImageRecord> SqliteSourceStore::find(Plant plant, std::int64_t id) {
  return findImage(plants_[plantIndex(plant)]->find, id);
}

std::int64_t SqliteSourceStore::count(Plant plant) { return countImages(plants_[plantIndex(plant)]->count); }

std::vector<ImageRecord> SqliteSourceStore::list(Plant plant, std::int64_t after_id, int limit) {
  return listImages(plants_[plantIndex(plant)]->list, after_id, limit);
}

std::vector<OutboxEntry> SqliteSourceStore::pendingEventsAfter(std::int64_t after_seq, std::size_t max) {
  read_outbox_.bind(1, static_cast<std::int64_t>(max)).bind(2, after_seq);
  std::vector<OutboxEntry> result;
  while (read_outbox_.step()) {
    OutboxEntry e;
    e.seq = read_outbox_.columnInt(0);
    e.plant = kAllPlants.at(static_cast<std::size_t>(read_outbox_.columnInt(1)));
    e.image_id = read_outbox_.columnInt(2);
    e.value = read_outbox_.columnBlob(3);
    e.created_ms = read_outbox_.columnInt(4);
    result.push_back(std::move(e));
  }
  read_outbox_.reset();
  return result;
}

void SqliteSourceStore::markPublished(std::int64_t up_to_seq) { delete_outbox_.bind(1, up_to_seq).run(); }

std::int64_t SqliteSourceStore::pendingCount() {
  count_outbox_.step();
  std::int64_t n = count_outbox_.columnInt(0);
  count_outbox_.reset();
  return n;
}

void SqliteSourceStore::ping() { db_.exec("SELECT 1"); }

}  // namespace leafsync
