#include "support/StreamModel.h"

#include "leafsync/Timestamp.h"

namespace leafsync::testing {

StreamModel::StreamModel(std::uint64_t seed, std::size_t image_bytes)
    : rng_(seed), image_bytes_(image_bytes) {
  for (Plant plant : kAllPlants) next_id_[plant] = 1;
}

ChangeEvent StreamModel::create(Plant plant) {
  std::int64_t id = next_id_[plant]++;
  ChangeEvent e;
  e.op = Op::Create;
  e.plant = plant;
  e.fields = kAllFields;
  e.source_ts_ms = nowMillis();
  ImageRecord& r = e.image;
  r.id = id;
  r.version = 1;
  r.camera_id = static_cast<std::int64_t>(rng_() % 50);
  r.data.resize(image_bytes_);
  for (char& c : r.data) c = static_cast<char>(rng_());
  r.latitude = static_cast<double>(rng_() % 180000) / 1000.0 - 90.0;
  r.longitude = static_cast<double>(rng_() % 360000) / 1000.0 - 180.0;
  r.created_at = r.updated_at = isoTimestamp(clock_us_);
  rows_[plant][id] = Row{r, false};
  return e;
}

ChangeEvent StreamModel::next() {
  clock_us_ += 1000;
  Plant plant = kAllPlants[rng_() % 3];
  auto& rows = rows_[plant];
  unsigned dice = static_cast<unsigned>(rng_() % 100);
  if (rows.empty() || dice < 35) return create(plant);

  // Pick an existing row; updates and deletes of deleted rows are not what a source emits.
  auto it = rows.lower_bound(static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(next_id_[plant])) + 1);
  if (it == rows.end()) it = rows.begin();
  for (int tries = 0; it->second.deleted && tries < 8; ++tries) {
    if (++it == rows.end()) it = rows.begin();
  }
  if (it->second.deleted) return create(plant);
  Row& row = it->second;
  ChangeEvent e;
  e.plant = plant;
  e.source_ts_ms = nowMillis();
  e.image.id = row.image.id;
  e.image.version = ++row.image.version;
  if (dice < 42) {
    e.op = Op::Delete;
    row.deleted = true;
    return e;
  }
  e.op = Op::Update;
  ImageRecord& r = row.image;
  r.updated_at = isoTimestamp(clock_us_);
  e.fields = kUpdatedAt;
  if (rng_() % 2) {
    r.disease = (rng_() % 4 == 0) ? std::optional<std::string>() : std::optional<std::string>("Late blight");
    e.fields |= kDisease;
  }
  if (rng_() % 2) {
    r.percentage = static_cast<double>(rng_() % 10000) / 100.0;
    e.fields |= kPercentage;
  }
  if (rng_() % 3 == 0) {
    r.is_active = !r.is_active;
    e.fields |= kIsActive;
  }
  if (rng_() % 10 == 0) {
    r.data[0] = static_cast<char>(rng_());
    e.fields |= kData;
  }
  e.image = r;  // the codec sends only the fields in e.fields
  return e;
}

std::size_t StreamModel::liveRows() const {
  std::size_t n = 0;
  for (const auto& [plant, rows] : rows_) {
    for (const auto& [id, row] : rows) n += row.deleted ? 0 : 1;
  }
  return n;
}

std::vector<std::string> StreamModel::differences(Store& copy) const {
  std::vector<std::string> diffs;
  for (const auto& [plant, rows] : rows_) {
    std::string name(plantName(plant));
    std::int64_t live = 0;
    for (const auto& [id, row] : rows) {
      auto found = copy.find(plant, id);
      if (row.deleted) {
        if (found) diffs.push_back(name + " " + std::to_string(id) + ": deleted at the source, present in the copy");
        continue;
      }
      ++live;
      if (!found) {
        diffs.push_back(name + " " + std::to_string(id) + ": missing from the copy");
      } else if (*found != row.image) {
        diffs.push_back(name + " " + std::to_string(id) + ": differs (copy version " +
                        std::to_string(found->version) + ", source version " + std::to_string(row.image.version) + ")");
      }
    }
    std::int64_t copied = copy.count(plant);
    if (copied != live) {
      diffs.push_back(name + ": copy has " + std::to_string(copied) + " rows, source " + std::to_string(live));
    }
  }
  return diffs;
}

}  // namespace leafsync::testing
