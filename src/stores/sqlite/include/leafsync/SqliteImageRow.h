#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leafsync/ImageRecord.h"
#include "leafsync/ImageTable.h"
#include "leafsync/Plant.h"
#include "leafsync/SqliteConnection.h"

namespace leafsync {

ImageRecord readImageRow(const SqliteStatement& statement);

// Run a prepared find (?1 = id), count, or list (?1 = after id, ?2 = limit) statement that
// selects kImageColumns; shared by the copy and the source store.
std::optional<ImageRecord> findImage(SqliteStatement& find, std::int64_t id);
std::int64_t countImages(SqliteStatement& count);
std::vector<ImageRecord> listImages(SqliteStatement& list, std::int64_t after_id, int limit);

}  // namespace leafsync
