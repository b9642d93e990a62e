#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leafsync/ImageRecord.h"
#include "leafsync/PostgresConnection.h"

namespace leafsync {

// The image columns (kImageColumns' order, the same names as in SQLite) of `row`.
ImageRecord readPostgresImageRow(const PgResult& result, int row);

// Run a prepared find ($1 = id), count, or list ($1 = after id, $2 = limit) statement that
// selects kImageColumns; shared by the copy and the source store. Throw StoreError.
std::optional<ImageRecord> findPostgresImage(PostgresConnection& db, const std::string& find, std::int64_t id);
std::int64_t countPostgresImages(PostgresConnection& db, const std::string& count);
std::vector<ImageRecord> listPostgresImages(PostgresConnection& db, const std::string& list, std::int64_t after_id,
                                            int limit);

}  // namespace leafsync
