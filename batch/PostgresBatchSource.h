#pragma once

#include <memory>
#include <string>

#include "BatchSynchronizer.h"

namespace leafsync {

// A PostgreSQL producer_plant_db read the way a db_synchronizer_job would read it: SQL over
// the image tables, the watermark as a WHERE clause (so a watermark run receives only the rows
// that changed, and the id set of the delete check as bare ids), every run in one
// REPEATABLE READ, READ ONLY transaction so its pages see one snapshot. Its transport is the
// connection's socket. Throws StoreError when the database cannot be reached or has no image
// tables (a batch job never creates them).
std::unique_ptr<BatchSource> openPostgresBatchSource(const std::string& url);

}  // namespace leafsync
