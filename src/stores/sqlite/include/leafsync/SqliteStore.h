#pragma once

#include <array>
#include <memory>
#include <string>

#include "leafsync/SqliteConnection.h"
#include "leafsync/Store.h"

namespace leafsync {

// The copy in an embedded SQLite file (WAL): one table per plant, keyed by image id, plus the
// kafka_offsets table. Several SqliteStore instances (one per thread) may share one file.
class SqliteStore : public Store {
 public:
  explicit SqliteStore(const std::string& path);
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

 private:
  struct PlantStatements;
  void migrate();
  void applyOne(const ChangeEvent& event, std::int64_t applied_ms, ApplyCounts& counts);
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
};

}  // namespace leafsync
