#include "Verifier.h"

#include <functional>

namespace leafsync {
namespace {

std::string describe(const ImageRecord& r) {
  return "version " + std::to_string(r.version) + ", data " + std::to_string(r.data.size()) + " bytes #" +
         std::to_string(std::hash<std::string>{}(r.data) % 1000000);
}

template <typename Visit>
void forEachRow(ImageReader& reader, Plant plant, Visit visit) {
  for (std::int64_t after = 0;;) {
    auto page = reader.list(plant, after, 1000);
    for (const ImageRecord& r : page) visit(r);
    if (page.size() < 1000) return;
    after = page.back().id;
  }
}

}  // namespace

std::vector<PlantComparison> compareCopies(ImageReader& source, ImageReader& copy, std::size_t max_examples) {
  std::vector<PlantComparison> result;
  for (Plant plant : kAllPlants) {
    PlantComparison c;
    c.plant = plant;
    std::string name(plantName(plant));
    auto note = [&](const std::string& text) {
      if (c.examples.size() < max_examples) c.examples.push_back(name + " " + text);
    };
    forEachRow(source, plant, [&](const ImageRecord& r) {
      ++c.source_rows;
      auto other = copy.find(plant, r.id);
      if (!other) {
        ++c.missing;
        note(std::to_string(r.id) + ": missing from the copy (source " + describe(r) + ")");
      } else if (*other != r) {
        ++c.differing;
        note(std::to_string(r.id) + ": differs (source " + describe(r) + "; copy " + describe(*other) + ")");
      }
    });
    forEachRow(copy, plant, [&](const ImageRecord& r) {
      ++c.copy_rows;
      if (!source.find(plant, r.id)) {
        ++c.extra;
        note(std::to_string(r.id) + ": in the copy only (" + describe(r) + ")");
      }
    });
    result.push_back(std::move(c));
  }
  return result;
}

void addParkedUpdates(Store& copy, std::vector<PlantComparison>& comparisons) {
  for (PlantComparison& c : comparisons) {
    ParkedSummary parked = copy.parkedUpdates(c.plant);
    c.parked = parked.count;
    if (parked.count > 0) {
      c.examples.push_back(std::string(plantName(c.plant)) + ": " + std::to_string(parked.count) +
                           " parked updates wait for earlier versions (a snapshot of the plant resolves a gap "
                           "that never closes)");
    }
  }
}

bool identical(const std::vector<PlantComparison>& comparisons) {
  for (const auto& c : comparisons) {
    if (c.missing || c.extra || c.differing || c.parked) return false;
  }
  return true;
}

}  // namespace leafsync
