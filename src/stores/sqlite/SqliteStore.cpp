#include "leafsync/SqliteStore.h"

#include <algorithm>
#include <map>

#include "leafsync/SqliteImageRow.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

constexpr int kSchemaVersion = 2;  // 2: parked_updates
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

// Partial updates that arrived before the version they follow (issue 13), one row per update,
// every field it could carry (those outside `fields` are ignored when it is released).
const char* const kCreateParkedSql =
    "CREATE TABLE IF NOT EXISTS parked_updates (plant TEXT NOT NULL, id INTEGER NOT NULL,"
    " version INTEGER NOT NULL, fields INTEGER NOT NULL, camera_id INTEGER, data BLOB,"
    " latitude REAL, longitude REAL, created_at TEXT, updated_at TEXT, is_active INTEGER,"
    " is_deleted INTEGER, disease TEXT, percentage REAL, source_ts_ms INTEGER NOT NULL,"
    " parked_ms INTEGER NOT NULL, PRIMARY KEY (plant, id, version)) WITHOUT ROWID";

// SET clause of a partial update whose values come from `src` (a parked row or parameters).
std::string partialSet(const std::string& table, const std::string& mask,
                       const std::array<std::string, 10>& v) {
  std::string set;
  for (std::size_t i = 0; i < std::size(kFieldColumns); ++i) {
    const FieldColumn& c = kFieldColumns[i];
    if (i) set += ", ";
    set += std::string(c.column) + " = CASE WHEN " + mask + " & " + std::to_string(c.field) + " THEN " + v[i] +
           " ELSE " + table + "." + c.column + " END";
  }
  return set;
}

const std::string kSelectColumns = std::string("SELECT ") + kImageColumns + " FROM ";

// ?1 = fields, ?2..?11 the values, ?12 version, ?13 source time, ?14 applied time, ?15 id: the
// numbering both the update and the park statement use.
// Parameters 2..14 of both the upsert and the update: the row's columns, its version and times.
SqliteStatement& bindRowColumns(SqliteStatement& st, const ChangeEvent& e, std::int64_t applied_ms) {
  const ImageRecord& r = e.image;
  return st.bind(2, r.camera_id)
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
}

SqliteStatement& bindUpdate(SqliteStatement& st, const ChangeEvent& e, std::int64_t applied_ms) {
  st.bind(1, std::int64_t{e.fields});
  return bindRowColumns(st, e, applied_ms).bind(15, e.image.id);
}

}  // namespace

SqliteApplySql sqliteApplySql(Plant plant) {
  SqliteApplySql sql;
  sql.upsert = "INSERT INTO " + imageTable(plant) +
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
                       " WHERE excluded.version > " + imageTable(plant) + ".version";
  // ?16 = 1 for a partial update: it applies only to the row at exactly version - 1.
  sql.update = "UPDATE " + imageTable(plant) + " SET " +
                       partialSet(imageTable(plant), "?1",
                                  {"?2", "?3", "?4", "?5", "?6", "?7", "?8", "?9", "?10", "?11"}) +
                       ", version = ?12, source_ts_ms = ?13, applied_ms = ?14"
                       " WHERE id = ?15 AND version < ?12 AND tombstone = 0"
                       " AND (?16 = 0 OR version = ?12 - 1)";
  sql.remove = "INSERT INTO " + imageTable(plant) +
                       " (id, camera_id, data, latitude, longitude, created_at, updated_at,"
                       " is_active, is_deleted, version, tombstone, source_ts_ms, applied_ms)"
                       " VALUES (?1, 0, x'', 0, 0, '', '', 0, 1, ?2, 1, ?3, ?4)"
                       " ON CONFLICT(id) DO UPDATE SET data = x'', version = excluded.version,"
                       " tombstone = 1, source_ts_ms = excluded.source_ts_ms,"
                       " applied_ms = excluded.applied_ms"
                       " WHERE excluded.version > " + imageTable(plant) + ".version";
  return sql;
}

struct SqliteStore::PlantStatements {
  PlantStatements(sqlite3* db, Plant plant)
      : upsert(db, sqliteApplySql(plant).upsert),
        update(db, sqliteApplySql(plant).update),
        remove(db, sqliteApplySql(plant).remove),
        version(db, "SELECT version, tombstone FROM " + imageTable(plant) + " WHERE id = ?1"),
        park(db, "INSERT INTO parked_updates (plant, id, version, fields, camera_id, data,"
                 " latitude, longitude, created_at, updated_at, is_active, is_deleted, disease,"
                 " percentage, source_ts_ms, parked_ms) VALUES (?16, ?15, ?12, ?1, ?2, ?3, ?4,"
                 " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13, ?14) ON CONFLICT DO NOTHING"),
        // The parked update that follows the row's version, if any.
        release(db, "UPDATE " + imageTable(plant) + " SET " +
                        partialSet(imageTable(plant), "p.fields",
                                   {"p.camera_id", "p.data", "p.latitude", "p.longitude",
                                    "p.created_at", "p.updated_at", "p.is_active", "p.is_deleted",
                                    "p.disease", "p.percentage"}) +
                        ", version = p.version, source_ts_ms = p.source_ts_ms, applied_ms = ?3"
                        " FROM parked_updates AS p WHERE p.plant = ?1 AND p.id = ?2 AND " +
                        imageTable(plant) + ".id = ?2 AND p.version = " + imageTable(plant) +
                        ".version + 1 AND " + imageTable(plant) + ".tombstone = 0"),
        // Parked updates the row has reached (released, or superseded by a full row), and all
        // of a deleted row's: no update applies to a tombstone.
        settle(db, "DELETE FROM parked_updates WHERE plant = ?1 AND id = ?2 AND version <= (SELECT"
                   " CASE WHEN tombstone THEN 9223372036854775807 ELSE version END FROM " +
                   imageTable(plant) + " WHERE id = ?2)"),
        parked(db, "SELECT count(*), min(parked_ms) FROM parked_updates WHERE plant = ?1"),
        find(db, kSelectColumns + imageTable(plant) + " WHERE id = ?1 AND tombstone = 0"),
        count(db, "SELECT COUNT(*) FROM " + imageTable(plant) + " WHERE tombstone = 0"),
        list(db, kSelectColumns + imageTable(plant) +
                     " WHERE id > ?1 AND tombstone = 0 ORDER BY id LIMIT ?2") {}

  SqliteStatement upsert;
  SqliteStatement update;
  SqliteStatement remove;
  SqliteStatement version;
  SqliteStatement park;
  SqliteStatement release;
  SqliteStatement settle;
  SqliteStatement parked;
  SqliteStatement find;
  SqliteStatement count;
  SqliteStatement list;
};

// The store that writes a file's group transactions, opened by the first leader that needs it.
struct SqliteStore::WriterSlot {
  std::string path;
  std::unique_ptr<SqliteStore> store;  // only ever touched by a group's leader, one at a time
};

namespace {

// The writer slot of the file whose group commit is `group`: the group commit is per file and
// lives while any connection to the file does, so it names the file.
std::shared_ptr<SqliteStore::WriterSlot> writerSlotOf(const SqliteGroupCommit* group, const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<const SqliteGroupCommit*, std::weak_ptr<SqliteStore::WriterSlot>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (auto it = registry.begin(); it != registry.end();) {
    it = it->second.expired() ? registry.erase(it) : std::next(it);
  }
  std::shared_ptr<SqliteStore::WriterSlot> slot = registry[group].lock();
  if (!slot) {
    slot = std::make_shared<SqliteStore::WriterSlot>();
    slot->path = path;
    registry[group] = slot;
  }
  return slot;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path) : SqliteStore(path, AsWriter{}) {
  writer_ = writerSlotOf(&db_.groupCommit(), path);
}

SqliteStore::SqliteStore(const std::string& path, AsWriter)
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

bool SqliteStore::holdsCopy(const std::string& path) { return sqliteFileHolds(path, kApplicationId, "kafka_offsets"); }

void SqliteStore::migrate() {
  SqliteSchema schema{kApplicationId, kSchemaVersion, {}, "kafka_offsets", "a consumer copy"};
  for (Plant plant : kAllPlants) schema.statements.push_back(createTableSql(plant));
  schema.statements.push_back(kCreateParkedSql);
  schema.statements.push_back(
      "CREATE TABLE IF NOT EXISTS kafka_offsets (topic TEXT NOT NULL,"
      " partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,"
      " updated_ms INTEGER NOT NULL, PRIMARY KEY (topic, partition))");
  db_.migrate(schema);
}

namespace {

// One caller's batch in a group transaction, and what it did.
struct GroupedBatch : SqliteGroupCommit::Request {
  GroupedBatch(const std::vector<ChangeEvent>& e, const std::vector<PartitionOffset>& o)
      : events(e), offsets(o) {}
  const std::vector<ChangeEvent>& events;
  const std::vector<PartitionOffset>& offsets;
  ApplyCounts counts;
};

}  // namespace

// The partitions' appliers of a process each call this on a connection of their own; the
// file's group commit writes the batches that are ready at once in one transaction, always on
// the file's one writer connection. Were each leader to write on its own connection, as at low
// rates (a batch per event, each partition leading its own), every transaction would follow
// another connection's: SQLite then drops the connection's page cache and reads the pages it
// writes again (~15 % of the appliers' CPU at 50 events/s in a perf profile, docs/benchmarks.md).
ApplyCounts SqliteStore::applyBatch(const std::vector<ChangeEvent>& events,
                                    const std::vector<PartitionOffset>& offsets) {
  GroupedBatch batch(events, offsets);
  db_.groupCommit().commit(batch, [this](const std::vector<SqliteGroupCommit::Request*>& group) {
    if (!writer_) return applyGroup(group);
    // A failure to open it fails this group; the next leader tries again.
    if (!writer_->store) writer_->store = std::make_unique<SqliteStore>(writer_->path, AsWriter{});
    writer_->store->applyGroup(group);
  });
  return std::move(batch.counts);
}

// One transaction: each batch's events in its order, then every batch's offsets. Either all
// of it is durable or none (a failure rolls everything back; SqliteGroupCommit then writes
// each batch again on its own).
void SqliteStore::applyGroup(const std::vector<SqliteGroupCommit::Request*>& group) {
  std::vector<GroupedBatch*> batches;
  batches.reserve(group.size());
  for (SqliteGroupCommit::Request* r : group) batches.push_back(static_cast<GroupedBatch*>(r));
  const std::size_t n = batches.size();
  const std::int64_t applied_ms = nowMillis();
  std::lock_guard<std::mutex> writer(db_.writer());
  begin_.run();
  try {
    // Whether each plant has parked updates: looked up once per transaction, only when a row
    // changes, so a copy without parked updates pays one cheap count per plant at most.
    parked_state_.fill(ParkedState::Untouched);
    // Every rule (version, parking, tombstones) is per row, so only each row's events need
    // their order: the transaction writes its rows in key order (a stable sort keeps each
    // row's events in batch order), so the batches of partitions whose keys interleave walk
    // the B-tree once rather than back and forth. Its effect on throughput was within the
    // noise of a shared machine (docs/benchmarks.md); the sort costs ~µs per batch.
    order_.clear();
    for (std::size_t b = 0; b < n; ++b) {
      ApplyCounts& counts = batches[b]->counts;
      counts = ApplyCounts{};
      counts.outcomes.resize(batches[b]->events.size());
      for (std::size_t i = 0; i < batches[b]->events.size(); ++i) {
        const ChangeEvent& e = batches[b]->events[i];
        order_.push_back({plantIndex(e.plant), e.image.id, static_cast<std::uint32_t>(b),
                          static_cast<std::uint32_t>(i)});
      }
    }
    std::stable_sort(order_.begin(), order_.end(), [](const EventRef& a, const EventRef& b) {
      return a.plant != b.plant ? a.plant < b.plant : a.id < b.id;
    });
    for (const EventRef& ref : order_) {
      GroupedBatch& batch = *batches[ref.batch];
      batch.counts.outcomes[ref.index] = applyOne(batch.events[ref.index], applied_ms, batch.counts);
    }
    std::array<std::int64_t, 3> pending = {-1, -1, -1};
    for (Plant plant : kAllPlants) {
      const std::size_t p = plantIndex(plant);
      if (parked_state_[p] == ParkedState::Untouched) continue;
      pending[p] = parked_state_[p] == ParkedState::None ? 0 : parkedCount(plant);
    }
    for (std::size_t b = 0; b < n; ++b) {
      ApplyCounts& counts = batches[b]->counts;
      // Each batch reports the plants it touched.
      for (const ChangeEvent& event : batches[b]->events) {
        counts.parked_pending[plantIndex(event.plant)] = pending[plantIndex(event.plant)];
      }
      for (const PartitionOffset& offset : batches[b]->offsets) {
        store_offset_.bindText(1, offset.topic)
            .bind(2, static_cast<std::int64_t>(offset.partition))
            .bind(3, offset.next_offset)
            .bind(4, applied_ms)
            .run();
      }
      counts.group_batches = static_cast<std::int64_t>(n);
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
}

std::int64_t SqliteStore::parkedCount(Plant plant) {
  SqliteStatement& q = plants_[plantIndex(plant)]->parked;
  q.bindText(1, plantName(plant));
  q.step();
  std::int64_t n = q.columnInt(0);
  q.reset();
  return n;
}

ParkedSummary SqliteStore::parkedUpdates(Plant plant) {
  SqliteStatement& q = plants_[plantIndex(plant)]->parked;
  q.bindText(1, plantName(plant));
  q.step();
  ParkedSummary summary;
  summary.count = q.columnInt(0);
  if (!q.columnIsNull(1)) summary.oldest_parked_ms = q.columnInt(1);
  q.reset();
  return summary;
}

// Row `id` just changed: apply the parked updates that now follow it, one version after the
// other, then drop those it has reached.
void SqliteStore::releaseParked(Plant plant, std::int64_t id, std::int64_t applied_ms,
                                ApplyCounts& counts) {
  ParkedState& state = parked_state_[plantIndex(plant)];
  if (state == ParkedState::Unknown || state == ParkedState::Untouched) {
    state = parkedCount(plant) > 0 ? ParkedState::Some : ParkedState::None;
  }
  if (state == ParkedState::None) return;
  PlantStatements& s = *plants_[plantIndex(plant)];
  const std::string_view name = plantName(plant);
  std::int64_t released = 0;
  for (;;) {
    s.release.bindText(1, name).bind(2, id).bind(3, applied_ms).run();
    if (db_.changes() == 0) break;
    ++released;
  }
  s.settle.bindText(1, name).bind(2, id).run();
  counts.released += released;
  counts.superseded += db_.changes() - released;
}

ApplyOutcome SqliteStore::applyOne(const ChangeEvent& e, std::int64_t applied_ms, ApplyCounts& counts) {
  PlantStatements& s = *plants_[plantIndex(e.plant)];
  ParkedState& state = parked_state_[plantIndex(e.plant)];
  if (state == ParkedState::Untouched) state = ParkedState::Unknown;
  const ImageRecord& r = e.image;
  SqliteStatement* statement = nullptr;
  switch (e.op) {
    case Op::Create:
    case Op::Snapshot:
      statement = &s.upsert;
      s.upsert.bind(1, r.id);
      bindRowColumns(s.upsert, e, applied_ms);
      break;
    case Op::Update:
      statement = &s.update;
      bindUpdate(s.update, e, applied_ms).bind(16, std::int64_t{e.needsPredecessor()});
      break;
    case Op::Delete:
      statement = &s.remove;
      s.remove.bind(1, r.id).bind(2, r.version).bind(3, e.source_ts_ms).bind(4, applied_ms);
      break;
  }
  statement->run();
  if (db_.changes() > 0) {
    ++counts.applied[static_cast<int>(e.op)];
    releaseParked(e.plant, r.id, applied_ms, counts);
    return ApplyOutcome::Applied;
  }
  if (e.op != Op::Update) {
    ++counts.stale;
    return ApplyOutcome::Stale;
  }
  // The rare path: find out why an update changed nothing, for the metrics.
  s.version.bind(1, r.id);
  const bool exists = s.version.step();
  const std::int64_t version = exists ? s.version.columnInt(0) : 0;
  const bool tombstone = exists && s.version.columnInt(1) != 0;
  s.version.reset();
  ApplyOutcome outcome = ApplyOutcome::Stale;
  if (exists && version >= r.version) {
    outcome = ApplyOutcome::Stale;
  } else if (tombstone) {
    outcome = ApplyOutcome::DeletedRow;
  } else if (!e.needsPredecessor()) {
    outcome = ApplyOutcome::MissingRow;  // a whole-row update of a row the copy never had
  } else {
    // Early: the versions before it are still on their way (another partition, e.g. after
    // partitions were added). A duplicate of a parked update is stale.
    bindUpdate(s.park, e, applied_ms).bindText(16, plantName(e.plant)).run();
    if (db_.changes() > 0) {
      outcome = ApplyOutcome::Parked;
      state = ParkedState::Some;
    }
  }
  switch (outcome) {
    case ApplyOutcome::Stale: ++counts.stale; break;
    case ApplyOutcome::DeletedRow: ++counts.deleted_row; break;
    case ApplyOutcome::MissingRow: ++counts.missing_row; break;
    case ApplyOutcome::Parked: ++counts.parked; break;
    case ApplyOutcome::Applied: break;
  }
  return outcome;
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

std::int64_t SqliteStore::writerPagesRead() const {
  if (writer_) return writer_->store ? writer_->store->writerPagesRead() : 0;
  return db_.pagesRead();
}

void SqliteStore::ping() { db_.exec("SELECT 1"); }

}  // namespace leafsync
