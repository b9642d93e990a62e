#pragma once

#include <string>

#include "leafsync/ImageRecord.h"
#include "leafsync/Plant.h"
#include "leafsync/SqliteConnection.h"

namespace leafsync {

// The image columns both SQLite stores select, in the order readImageRow expects.
inline constexpr const char* kImageColumns =
    "id, camera_id, data, latitude, longitude, created_at, updated_at, is_active, is_deleted,"
    " disease, percentage, version";

ImageRecord readImageRow(const SqliteStatement& statement);

// One table per plant in both databases: image_potato, image_tomato, image_pepper.
std::string imageTable(Plant plant);

}  // namespace leafsync
