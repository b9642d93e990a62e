#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "leafsync/Store.h"

namespace leafsync {

struct PlantComparison {
  Plant plant = Plant::Potato;
  std::int64_t source_rows = 0, copy_rows = 0, missing = 0, extra = 0, differing = 0;
  std::int64_t parked = 0;  // partial updates the copy holds for versions not yet seen
  std::vector<std::string> examples;  // the first few differences, described
};

// Compares the source and the copy row by row: every field and the version, image bytes by
// content (reported by hash). The copy's tombstones are invisible to it, as to any reader.
std::vector<PlantComparison> compareCopies(ImageReader& source, ImageReader& copy, std::size_t max_examples = 10);

// Fills in the parked updates the copy holds per plant: rows that will change once the
// versions before those updates arrive (or a snapshot supersedes them).
void addParkedUpdates(Store& copy, std::vector<PlantComparison>& comparisons);

// No row missing, extra or differing, and nothing parked.
bool identical(const std::vector<PlantComparison>& comparisons);

}  // namespace leafsync
