#include "leafsync/PostgresSourceStore.h"

#include "leafsync/EventCodec.h"
#include "leafsync/ImageTable.h"
#include "leafsync/PostgresImageRow.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

using namespace pgtype;

// "outbox" in ASCII: serialises outbox inserts until commit, so seq order is commit order.
constexpr std::int64_t kOutboxLockKey = 0x6f7574626f78;

std::vector<PgMigration> sourceMigrations() {
  std::string v1;
  for (Plant plant : kAllPlants) {
    v1 += "CREATE TABLE " + imageTable(plant) +
          " (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, camera_id bigint NOT NULL,"
          " data bytea NOT NULL, latitude double precision NOT NULL,"
          " longitude double precision NOT NULL, created_at text NOT NULL,"
          " updated_at text NOT NULL, is_active boolean NOT NULL, is_deleted boolean NOT NULL,"
          " disease text, percentage double precision, version bigint NOT NULL);\n";
  }
  v1 +=
      "CREATE TABLE outbox (seq bigserial PRIMARY KEY, plant integer NOT NULL,"
      " image_id bigint NOT NULL, value bytea NOT NULL, created_ms bigint NOT NULL);\n";
  return {{1, "image tables per plant with identity ids, outbox", v1}};
}

const std::string kBegin = "BEGIN";
const std::string kCommit = "COMMIT";
const std::string kLockOutbox = "source_lock_outbox";
const std::string kInsertOutbox = "source_insert_outbox";
const std::string kReadOutbox = "source_read_outbox";
const std::string kDeleteOutbox = "source_delete_outbox";
const std::string kCountOutbox = "source_count_outbox";


struct OutboxRow {
  Plant plant;
  std::int64_t image_id;
  std::string value;
  std::int64_t created_ms;
};

PgParams outboxParams(const std::vector<OutboxRow>& rows) {
  PgArray plant(kInt4), image_id(kInt8), value(kBytea), created(kInt8);
  for (const OutboxRow& r : rows) {
    plant.add(static_cast<std::int32_t>(plantIndex(r.plant)));
    image_id.add(r.image_id);
    value.addBytes(r.value);
    created.add(r.created_ms);
  }
  PgParams p;
  p.array(plant).array(image_id).array(value).array(created);
  return p;
}

OutboxRow outboxRow(const ChangeEvent& event) {
  return {event.plant, event.image.id, EventCodec::encode(event), event.source_ts_ms};
}

}  // namespace

// Rolls back unless committed: the connection is left idle for the next operation.
class PostgresSourceStore::Transaction {
 public:
  explicit Transaction(PostgresConnection& db) : db_(db) {}
  ~Transaction() {
    if (!committed_) db_.rollbackQuietly();
  }
  // Runs `queries` (BEGIN first if this transaction has not begun) in one pipeline.
  std::vector<PgResult> run(std::vector<PgQuery> queries) {
    if (!begun_) queries.insert(queries.begin(), PgQuery{nullptr, &kBegin, nullptr});
    std::vector<PgResult> results = db_.pipeline(queries);
    if (!begun_) results.erase(results.begin());
    begun_ = true;
    return results;
  }
  // Runs `queries`, then inserts the outbox rows (under the outbox lock) and commits: one
  // round trip.
  std::vector<PgResult> commitWith(std::vector<PgQuery> queries,
                                   const std::vector<OutboxRow>& rows) {
    PgParams lock = PgParams().add(kOutboxLockKey);
    PgParams insert;
    if (!rows.empty()) {
      insert = outboxParams(rows);
      queries.push_back({&kLockOutbox, nullptr, &lock});
      queries.push_back({&kInsertOutbox, nullptr, &insert});
    }
    queries.push_back({nullptr, &kCommit, nullptr});
    std::vector<PgResult> results = run(std::move(queries));
    committed_ = true;
    return results;
  }
  void commit() { commitWith({}, {}); }

 private:
  PostgresConnection& db_;
  bool begun_ = false;
  bool committed_ = false;
};

PostgresSourceStore::PostgresSourceStore(const std::string& url) : db_(url) {
  migrateSchema(db_, "source", sourceMigrations(), "copy");
  const std::string select = std::string("SELECT ") + kImageColumns + " FROM ";
  for (Plant plant : kAllPlants) {
    const std::string table = imageTable(plant);
    const std::string suffix = "_" + std::string(plantName(plant));
    Statements& s = plants_[plantIndex(plant)];
    s = {"source_insert" + suffix, "source_find" + suffix,   "source_find_for_update" + suffix,
         "source_update" + suffix, "source_remove" + suffix, "source_count" + suffix,
         "source_list" + suffix};
    db_.prepare(s.insert,
                "INSERT INTO " + table +
                    " (camera_id, data, latitude, longitude, created_at, updated_at, is_active,"
                    " is_deleted, disease, percentage, version)"
                    " VALUES ($1, $2, $3, $4, $5, $5, false, false, NULL, NULL, 1) RETURNING id",
                {kInt8, kBytea, kFloat8, kFloat8, kText});
    db_.prepare(s.find, select + table + " WHERE id = $1", {kInt8});
    db_.prepare(s.find_for_update, select + table + " WHERE id = $1 FOR UPDATE", {kInt8});
    // data: NULL keeps the stored bytes (a metadata update does not send them back).
    db_.prepare(
        s.update,
        "UPDATE " + table +
            " SET camera_id = $2, data = coalesce($3, data), latitude = $4, longitude = $5,"
            " updated_at = $6, is_active = $7, is_deleted = $8, disease = $9,"
            " percentage = $10, version = $11 WHERE id = $1",
        {kInt8, kInt8, kBytea, kFloat8, kFloat8, kText, kBool, kBool, kText, kFloat8, kInt8});
    db_.prepare(s.remove, "DELETE FROM " + table + " WHERE id = $1", {kInt8});
    db_.prepare(s.count, "SELECT count(*) FROM " + table, {});
    db_.prepare(s.list, select + table + " WHERE id > $1 ORDER BY id LIMIT $2", {kInt8, kInt8});
  }
  db_.prepare(kLockOutbox, "SELECT pg_advisory_xact_lock($1)", {kInt8});
  db_.prepare(kInsertOutbox,
              "INSERT INTO outbox (plant, image_id, value, created_ms)"
              " SELECT * FROM unnest($1::int4[], $2::int8[], $3::bytea[], $4::int8[])",
              {kInt4Array, kInt8Array, kByteaArray, kInt8Array});
  db_.prepare(kReadOutbox,
              "SELECT seq, plant, image_id, value, created_ms FROM outbox WHERE seq > $2 ORDER BY seq LIMIT $1",
              {kInt8, kInt8});
  db_.prepare(kDeleteOutbox, "DELETE FROM outbox WHERE seq <= $1", {kInt8});
  db_.prepare(kCountOutbox, "SELECT count(*) FROM outbox", {});
  db_.ensureOpen();  // prepares now: a broken statement fails at start
}

PostgresSourceStore::~PostgresSourceStore() = default;

ImageRecord PostgresSourceStore::create(Plant plant, const NewImage& image) {
  const Statements& s = plants_[plantIndex(plant)];
  std::int64_t now_us = nowMicros();
  std::string now = isoTimestamp(now_us);
  db_.ensureOpen();
  Transaction tx(db_);
  PgParams insert;
  insert.add(image.camera_id).bytea(image.data).add(image.latitude).add(image.longitude).text(now);
  std::vector<PgResult> inserted = tx.run({{&s.insert, nullptr, &insert}});
  ChangeEvent event = createdEvent(plant, inserted[0].getInt(0, 0), image, now_us, now);
  tx.commitWith({}, {outboxRow(event)});
  return event.image;
}

std::optional<ImageRecord> PostgresSourceStore::update(Plant plant, const ImageChange& change) {
  const Statements& s = plants_[plantIndex(plant)];
  db_.ensureOpen();
  Transaction tx(db_);
  PgParams find = PgParams().add(change.id);
  std::vector<PgResult> found = tx.run({{&s.find_for_update, nullptr, &find}});
  if (found[0].rows() == 0) {
    tx.commit();
    return std::nullopt;
  }
  ImageRecord r = readPostgresImageRow(found[0], 0);
  std::uint32_t changed = changedFields(r, change);
  if (changed == 0) {
    tx.commit();
    return r;
  }
  std::int64_t now_us = nowMicros();
  r = withChange(std::move(r), change, changed, isoTimestamp(now_us));

  PgParams update;
  update.add(r.id).add(r.camera_id);
  if (changed & kData) {
    update.bytea(r.data);
  } else {
    update.null(kBytea);
  }
  update.add(r.latitude).add(r.longitude).text(r.updated_at).add(r.is_active).add(r.is_deleted);
  update.optional(r.disease).optional(r.percentage).add(r.version);

  ChangeEvent event;
  event.op = Op::Update;
  event.plant = plant;
  event.source_ts_ms = now_us / 1000;
  event.fields = changed | kUpdatedAt;
  event.image = r;
  tx.commitWith({{&s.update, nullptr, &update}}, {outboxRow(event)});
  return r;
}

std::optional<std::int64_t> PostgresSourceStore::remove(Plant plant, std::int64_t id) {
  const Statements& s = plants_[plantIndex(plant)];
  db_.ensureOpen();
  Transaction tx(db_);
  PgParams find = PgParams().add(id);
  std::vector<PgResult> found = tx.run({{&s.find_for_update, nullptr, &find}});
  if (found[0].rows() == 0) {
    tx.commit();
    return std::nullopt;
  }
  std::int64_t version = found[0].getInt(0, 11) + 1;
  ChangeEvent event;
  event.op = Op::Delete;
  event.plant = plant;
  event.source_ts_ms = nowMillis();
  event.image.id = id;
  event.image.version = version;
  PgParams remove = PgParams().add(id);
  tx.commitWith({{&s.remove, nullptr, &remove}}, {outboxRow(event)});
  return version;
}

// The outbox lock is taken before the rows are read: a change committed before is in the
// snapshot, a change committing later gets a later seq, as with SQLite's write lock.
std::vector<std::int64_t> PostgresSourceStore::enqueueSnapshot(Plant plant, std::int64_t after_id,
                                                               int limit) {
  const Statements& s = plants_[plantIndex(plant)];
  db_.ensureOpen();
  Transaction tx(db_);
  PgParams lock = PgParams().add(kOutboxLockKey);
  PgParams list = PgParams().add(after_id).add(static_cast<std::int64_t>(limit));
  std::vector<PgResult> results =
      tx.run({{&kLockOutbox, nullptr, &lock}, {&s.list, nullptr, &list}});
  const PgResult& rows = results[1];
  std::int64_t now_ms = nowMillis();
  std::vector<std::int64_t> ids;
  std::vector<OutboxRow> events;
  for (int row = 0; row < rows.rows(); ++row) {
    ChangeEvent event;
    event.op = Op::Snapshot;
    event.plant = plant;
    event.source_ts_ms = now_ms;
    event.fields = kAllFields;
    event.image = readPostgresImageRow(rows, row);
    events.push_back(outboxRow(event));
    ids.push_back(event.image.id);
  }
  // Already under the outbox lock: taking it again in commitWith is a no-op re-entry.
  tx.commitWith({}, events);
  return ids;
}

void PostgresSourceStore::enqueueSnapshotEnd(Plant plant, std::int64_t rows) {
  SnapshotMarker marker{plant, rows, nowMillis()};
  db_.ensureOpen();
  Transaction tx(db_);
  tx.commitWith({}, {{plant, 0, EventCodec::encodeMarker(marker), marker.source_ts_ms}});
}

std::optional<ImageRecord> PostgresSourceStore::find(Plant plant, std::int64_t id) {
  return findPostgresImage(db_, plants_[plantIndex(plant)].find, id);
}

std::int64_t PostgresSourceStore::count(Plant plant) { return countPostgresImages(db_, plants_[plantIndex(plant)].count); }

std::vector<ImageRecord> PostgresSourceStore::list(Plant plant, std::int64_t after_id, int limit) {
  return listPostgresImages(db_, plants_[plantIndex(plant)].list, after_id, limit);
}

std::vector<OutboxEntry> PostgresSourceStore::pendingEventsAfter(std::int64_t after_seq, std::size_t max) {
  db_.ensureOpen();
  PgResult r = db_.execPrepared(kReadOutbox, PgParams().add(static_cast<std::int64_t>(max)).add(after_seq));
  std::vector<OutboxEntry> result;
  result.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    OutboxEntry e;
    e.seq = r.getInt(row, 0);
    e.plant = kAllPlants.at(static_cast<std::size_t>(r.getInt(row, 1)));
    e.image_id = r.getInt(row, 2);
    e.value = r.getBytes(row, 3);
    e.created_ms = r.getInt(row, 4);
    result.push_back(std::move(e));
  }
  return result;
}

void PostgresSourceStore::markPublished(std::int64_t up_to_seq) {
  db_.ensureOpen();
  db_.execPrepared(kDeleteOutbox, PgParams().add(up_to_seq));
}

std::int64_t PostgresSourceStore::pendingCount() {
  db_.ensureOpen();
  return db_.execPrepared(kCountOutbox, PgParams()).getInt(0, 0);
}

void PostgresSourceStore::ping() {
  db_.ensureOpen();
  db_.exec("SELECT 1");
}

}  // namespace leafsync
