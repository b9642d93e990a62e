#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leafsync/ImageRecord.h"
#include "leafsync/Plant.h"
#include "leafsync/SqliteConnection.h"

namespace leafsync {

// The image columns both SQLite stores select, in the order readImageRow expects.
inline constexpr const char* kImageColumns =
    "id, camera_id, data, latitude, longitude, created_at, updated_at, is_active, is_deleted,"
    " disease, percentage, version";

ImageRecord readImageRow(const SqliteStatement& statement);

// Run a prepared find (?1 = id), count, or list (?1 = after id, ?2 = limit) statement that
// selects kImageColumns; shared by the copy and the source store.
std::optional<ImageRecord> findImage(SqliteStatement& find, std::int64_t id);
std::int64_t countImages(SqliteStatement& count);
std::vector<ImageRecord> listImages(SqliteStatement& list, std::int64_t after_id, int limit);

// One table per plant in both databases: image_potato, image_tomato, image_pepper.
std::string imageTable(Plant plant);

}  // namespace leafsync
