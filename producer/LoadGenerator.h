#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>

#include "leafsync/SourceStore.h"

namespace leafsync {

struct LoadOptions {
  double rate = 100;       // writes per second, all plants together
  double duration_s = 10;
  int mix_create = 20;     // relative weights
  int mix_update = 75;
  int mix_delete = 5;
  std::size_t image_bytes = 1024;
  std::uint64_t seed = 1;
  // A progress line (rate, errors, outbox depth, time left) every progress_every_s; a long run
  // must show where it is. nullptr: none.
  std::ostream* progress = &std::cerr;
  double progress_every_s = 2;
};

struct LoadResult {
  std::int64_t creates = 0, updates = 0, deletes = 0, errors = 0;
  double seconds = 0;
  std::int64_t writes() const { return creates + updates + deletes; }
};

// Parses "create:update:delete" weights, e.g. "20:75:5"; throws std::invalid_argument.
void parseMix(const std::string& text, LoadOptions& options);

// Simulates cameras and the disease analyzer at a steady rate: new images, metadata updates
// (disease, percentage, activity — no image bytes), a few deletes. Every write goes through
// the image-api's own request parsing and the source store, as an HTTP write would.
LoadResult runLoad(SourceStore& store, const LoadOptions& options, const std::function<void()>& on_write,
                   const std::atomic<bool>& stop);

}  // namespace leafsync
