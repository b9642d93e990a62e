#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "leafsync/ChangeEvent.h"

namespace leafsync {

// The next offset to consume of one partition, kept in the copy beside the rows it produced.
struct PartitionOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
};

// Parked: a partial update that arrived before the version it follows; it is held in the copy
// (same transaction) and applied when the row reaches version - 1.
enum class ApplyOutcome { Applied, Stale, MissingRow, DeletedRow, Parked };

// What one batch did: per event (in batch order) and counted: applied (by op), or left alone
// and why.
struct ApplyCounts {
  std::vector<ApplyOutcome> outcomes;
  std::int64_t applied[4] = {0, 0, 0, 0};  // indexed by Op
  std::int64_t stale = 0;                  // version not newer than the copy's
  std::int64_t missing_row = 0;            // update of a row the copy never had
  std::int64_t deleted_row = 0;            // update of a row the copy holds as deleted
  std::int64_t parked = 0;                 // partial updates of this batch held for later
  std::int64_t released = 0;     // held updates (of this or earlier batches) applied now
  std::int64_t superseded = 0;   // held updates dropped: a full row or delete at or above them
  // Per plant (plantIndex): updates held in the copy once this batch committed; -1 for a plant
  // the batch did not touch.
  std::array<std::int64_t, 3> parked_pending = {-1, -1, -1};
  // Batches committed in the same transaction as this one, this one included: more than 1
  // where a store group-commits the batches of several callers (SQLite).
  std::int64_t group_batches = 1;

  std::int64_t appliedTotal() const { return applied[0] + applied[1] + applied[2] + applied[3]; }
};

// The partial updates a copy holds for one plant, waiting for the versions before them.
struct ParkedSummary {
  std::int64_t count = 0;
  std::optional<std::int64_t> oldest_parked_ms;  // when the longest-waiting one was parked
};

// A database failure (connection lost, disk full, lock timeout): retriable, never a bad event.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the read API needs of either database. Reads see live rows only.
class ImageReader {
 public:
  virtual ~ImageReader() = default;
  virtual std::optional<ImageRecord> find(Plant plant, std::int64_t id) = 0;
  virtual std::int64_t count(Plant plant) = 0;
  virtual std::vector<ImageRecord> list(Plant plant, std::int64_t after_id, int limit) = 0;
  virtual void ping() = 0;  // throws StoreError when the database does not answer
};

// The consumer's copy (consumer_plant_db). Each instance owns one connection and is used by
// one thread at a time; open one per thread.
class Store : public ImageReader {
 public:

  // Applies the events in order under the version rule and stores the offsets, all in one
  // transaction: either everything is durable or nothing is. Throws StoreError. A store may
  // commit the batches that several threads (one instance each) pass at the same time in one
  // shared transaction (group commit): each row's events still apply in batch order, and each
  // batch is committed exactly once or, when this throws, not at all.
  virtual ApplyCounts applyBatch(const std::vector<ChangeEvent>& events,
                                 const std::vector<PartitionOffset>& offsets) = 0;

  virtual std::optional<std::int64_t> nextOffset(const std::string& topic,
                                                 std::int32_t partition) = 0;
  virtual std::vector<PartitionOffset> offsets() = 0;

  // Deleted rows are kept as tombstones, never returned by reads. Version of the row including
  // tombstones (0 when the copy never saw the id).
  virtual std::int64_t versionOf(Plant plant, std::int64_t id) = 0;

  // The updates held (parked) for `plant`: how many, and since when the oldest waits. A gap
  // that never closes (a version lost upstream) keeps them until a snapshot of the plant.
  virtual ParkedSummary parkedUpdates(Plant plant) = 0;
};

}  // namespace leafsync
