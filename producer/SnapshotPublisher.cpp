#include "SnapshotPublisher.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace leafsync {

SnapshotResult runSnapshot(SourceStore& store, const SnapshotOptions& options, const std::function<void()>& on_write,
                           const std::atomic<bool>& stop, std::ostream& progress) {
  using Clock = std::chrono::steady_clock;
  std::int64_t total = 0;
  for (Plant plant : options.plants) total += store.count(plant);
  // Small chunks keep the rate even; 20 per second is smooth enough without a transaction per row.
  int chunk = static_cast<int>(std::clamp(options.rate / 20.0, 1.0, 500.0));
  SnapshotResult result;
  auto started = Clock::now();
  auto next_report = started + std::chrono::seconds(1);
  for (Plant plant : options.plants) {
    std::int64_t plant_rows = 0;
    for (std::int64_t after = 0; !stop;) {
      auto ids = store.enqueueSnapshot(plant, after, chunk);
      if (ids.empty()) break;
      after = ids.back();
      plant_rows += static_cast<std::int64_t>(ids.size());
      result.rows += static_cast<std::int64_t>(ids.size());
      on_write();
      std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(static_cast<double>(result.rows) / options.rate)));
      if (Clock::now() >= next_report) {
        double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
        double rate = static_cast<double>(result.rows) / elapsed;
        char line[200];
        std::snprintf(line, sizeof line, "snapshot: %s, %lld/%lld rows (%.0f%%), %.0f rows/s, ETA %.0f s\n",
                      std::string(plantName(plant)).c_str(), static_cast<long long>(result.rows),
                      static_cast<long long>(total), total ? 100.0 * static_cast<double>(result.rows) / static_cast<double>(total) : 100.0,
                      rate, rate > 0 ? static_cast<double>(std::max<std::int64_t>(0, total - result.rows)) / rate : 0.0);
        progress << line << std::flush;
        next_report += std::chrono::seconds(1);
      }
    }
    if (stop) break;
    store.enqueueSnapshotEnd(plant, plant_rows);
    on_write();
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace leafsync
