#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace leafsync {

// One leaf image as the seed's API describes it, plus the version the source bumps on every
// change. `data` holds the raw image bytes (hex in the REST API, base64 in events).
struct ImageRecord {
  std::int64_t id = 0;
  std::int64_t camera_id = 0;
  std::string data;
  double latitude = 0.0;
  double longitude = 0.0;
  std::string created_at;  // ISO-8601, e.g. 2023-10-08T15:39:49.123123
  std::string updated_at;
  bool is_active = false;
  bool is_deleted = false;
  std::optional<std::string> disease;
  std::optional<double> percentage;
  std::int64_t version = 0;

  bool operator==(const ImageRecord& other) const;
  bool operator!=(const ImageRecord& other) const { return !(*this == other); }
};

}  // namespace leafsync
