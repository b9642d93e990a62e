#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <ostream>
#include <vector>

#include "leafsync/SourceStore.h"

namespace leafsync {

struct SnapshotOptions {
  std::vector<Plant> plants = {Plant::Potato, Plant::Tomato, Plant::Pepper};
  double rate = 1000;  // rows per second, all plants together
};

struct SnapshotResult {
  std::int64_t rows = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

// Queues every live row of the chosen plants as a snapshot event (op r, current version) in
// the outbox, at `rate` rows per second, then an end marker per plant, so an empty copy can be
// rebuilt after the topics' retention dropped the old events. Reading and queueing a chunk
// happen in one transaction: a change racing with the snapshot is queued after its row, and
// the consumer's version rule keeps the newer state. Safe to run again (idempotent in effect).
// Progress goes to `progress` about once a second.
SnapshotResult runSnapshot(SourceStore& store, const SnapshotOptions& options,
                           const std::function<void()>& on_write, const std::atomic<bool>& stop,
                           std::ostream& progress);

}  // namespace leafsync
