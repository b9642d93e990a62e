#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "leafsync/PostgresConnection.h"
#include "leafsync/Store.h"

namespace leafsync {

// How PostgresStore::applyBatch talks to the server. The defaults are the fastest measured
// (see applyBatch); the others exist to measure against and to cross-check the outcomes.
struct PostgresApplyOptions {
  // Send the whole batch (BEGIN, statements, offsets, COMMIT) as one pipeline: one round
  // trip per batch instead of one per statement.
  bool pipeline = true;
  // Most events in one multi-row statement; 0 = no limit, 1 = one statement per event.
  // 100 measured best: the server works on the first statements while the client still
  // encodes and sends the next (1,000 creates of 1 KiB: ~30 % faster than one statement;
  // of 20 KiB: twice as fast).
  std::size_t max_run = 100;
};

// The copy (consumer_plant_db) in PostgreSQL, through libpq: the same tables, apply rules and
// outcomes as SqliteStore (one table per plant keyed by image id, tombstones, kafka_offsets
// that never move backwards), so several consumer processes can share one database.
// One connection per instance, used by one thread at a time.
class PostgresStore : public Store {
 public:
  // url: postgresql://user@host:port/db (or postgres://). Creates or migrates the schema.
  // Throws StoreError when the server cannot be reached.
  explicit PostgresStore(const std::string& url, PostgresApplyOptions options = {});
  ~PostgresStore() override;

  ApplyCounts applyBatch(const std::vector<ChangeEvent>& events,
                         const std::vector<PartitionOffset>& offsets) override;
  std::optional<std::int64_t> nextOffset(const std::string& topic, std::int32_t partition) override;
  std::vector<PartitionOffset> offsets() override;
  std::optional<ImageRecord> find(Plant plant, std::int64_t id) override;
  std::int64_t count(Plant plant) override;
  std::vector<ImageRecord> list(Plant plant, std::int64_t after_id, int limit) override;
  std::int64_t versionOf(Plant plant, std::int64_t id) override;
  ParkedSummary parkedUpdates(Plant plant) override;
  void ping() override;

  // The server process of this store's connection (tests kill it to simulate an outage).
  int backendPid() const { return db_.backendPid(); }

 private:
  struct Statements {
    std::string upsert, update, remove, find, count, list, version, release;
  };

  PostgresConnection db_;
  PostgresApplyOptions options_;
  std::array<Statements, 3> plants_;
};

}  // namespace leafsync
