#pragma once

#include <array>
#include <memory>
#include <string>

#include "leafsync/SqliteConnection.h"
#include "leafsync/Store.h"

namespace leafsync {

// The copy in an embedded SQLite file (WAL): one table per plant, keyed by image id, plus the
// kafka_offsets table. Several SqliteStore instances (one per thread) may share one file; a
// process writes the file on one connection of its own (applyBatch).
// The statements that apply a change to `plant`'s table (a full row, a partial update, a
// delete as a tombstone), the very text SqliteStore prepares: bench/apply_bench's ceiling runs
// them, so what it measures cannot drift from what the store does.
struct SqliteApplySql {
  std::string upsert;  // ?1 id … ?12 version, ?13 source_ts_ms, ?14 applied_ms
  std::string update;  // ?1 field mask, ?2..?11 columns, ?12 version, ?13, ?14, ?15 id, ?16 partial
  std::string remove;  // ?1 id, ?2 version, ?3 source_ts_ms, ?4 applied_ms
};
SqliteApplySql sqliteApplySql(Plant plant);

class SqliteStore : public Store {
  struct AsWriter {};  // a key only SqliteStore can make: the constructor below is its own

 public:
  explicit SqliteStore(const std::string& path);
  // The file's writer: writes the groups of every store of this process on the file, on its
  // own connection (and has no writer of its own).
  SqliteStore(const std::string& path, AsWriter);
  ~SqliteStore() override;
  // Whether the existing file at `path` is a consumer copy; reads only (StoreFactory).
  static bool holdsCopy(const std::string& path);

  ApplyCounts applyBatch(const std::vector<ChangeEvent>& events,
                         const std::vector<PartitionOffset>& offsets) override;
  std::optional<std::int64_t> nextOffset(const std::string& topic,
                                         std::int32_t partition) override;
  std::vector<PartitionOffset> offsets() override;
  std::optional<ImageRecord> find(Plant plant, std::int64_t id) override;
  std::int64_t count(Plant plant) override;
  std::vector<ImageRecord> list(Plant plant, std::int64_t after_id, int limit) override;
  std::int64_t versionOf(Plant plant, std::int64_t id) override;
  ParkedSummary parkedUpdates(Plant plant) override;
  void ping() override;
  // This process's group commits to the file (all its connections): transactions written and
  // batches they carried.
  std::uint64_t groupTransactions() const { return db_.groupCommit().transactions(); }
  std::uint64_t groupBatches() const { return db_.groupCommit().requests(); }
  // Pages the connection that writes this store's batches read from the file (misses of its
  // page cache) so far: 0 for a file's writer that has not written yet. Not while a batch is
  // being written.
  std::int64_t writerPagesRead() const;
  struct WriterSlot;  // where the file's writer is kept (SqliteStore.cpp)

 private:
  struct PlantStatements;
  void migrate();
  void applyGroup(const std::vector<SqliteGroupCommit::Request*>& group);
  // Applies one event, counts it, returns its outcome.
  ApplyOutcome applyOne(const ChangeEvent& event, std::int64_t applied_ms, ApplyCounts& counts);
  void releaseParked(Plant plant, std::int64_t id, std::int64_t applied_ms, ApplyCounts& counts);
  std::int64_t parkedCount(Plant plant);

  // Per plant, within one batch: not touched by it, touched but not looked up, no parked
  // updates, some.
  enum class ParkedState { Untouched, Unknown, None, Some };

  SqliteConnection db_;
  std::array<std::unique_ptr<PlantStatements>, 3> plants_;
  SqliteStatement begin_;
  SqliteStatement commit_;
  SqliteStatement rollback_;
  SqliteStatement store_offset_;
  SqliteStatement read_offset_;
  SqliteStatement read_offsets_;
  std::array<ParkedState, 3> parked_state_{};
  // A group transaction's events in the order it writes them (kept: no allocation per batch).
  struct EventRef {
    std::size_t plant;
    std::int64_t id;
    std::uint32_t batch;
    std::uint32_t index;
  };
  std::vector<EventRef> order_;
  // Shared by this process's stores of the file: the one store that writes every group
  // transaction (see applyBatch). Null in that store itself.
  std::shared_ptr<WriterSlot> writer_;
};

}  // namespace leafsync
