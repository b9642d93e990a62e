#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "leafsync/ChangeEvent.h"
#include "leafsync/Store.h"

namespace leafsync::testing {

// Generates a realistic change stream (creates, partial metadata updates, some image
// replacements, deletes) over the three plants, and keeps the source state it implies:
// what the copy must equal once every event is applied.
class StreamModel {
 public:
  explicit StreamModel(std::uint64_t seed, std::size_t image_bytes = 64);

  ChangeEvent next();

  // Row-by-row comparison against a copy; returns human-readable differences (empty = equal).
  std::vector<std::string> differences(Store& copy) const;
  std::size_t liveRows() const;

 private:
  struct Row {
    ImageRecord image;
    bool deleted = false;
  };
  ChangeEvent create(Plant plant);
  std::mt19937_64 rng_;
  std::size_t image_bytes_;
  std::map<Plant, std::map<std::int64_t, Row>> rows_;
  std::map<Plant, std::int64_t> next_id_;
  std::int64_t clock_us_ = 1700000000000000;
};

}  // namespace leafsync::testing
