#pragma once

#include <string>

#include "leafsync/Plant.h"

namespace leafsync {

// One table per plant in every database, source and copy alike: image_potato, image_tomato,
// image_pepper.
std::string imageTable(Plant plant);

// The image columns every store selects, in the order its row reader expects; the same names in
// SQLite and PostgreSQL.
inline constexpr const char* kImageColumns =
    "id, camera_id, data, latitude, longitude, created_at, updated_at, is_active, is_deleted,"
    " disease, percentage, version";

}  // namespace leafsync
