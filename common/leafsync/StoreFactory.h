#pragma once

#include <memory>
#include <string>

#include "leafsync/SourceStore.h"
#include "leafsync/Store.h"

namespace leafsync {

// Opens the copy named by a URL: "postgresql://…" / "postgres://…" (libpq connection URI),
// "sqlite:PATH", "sqlite://PATH" or a bare file path.
// Throws std::invalid_argument for a URL it cannot serve, StoreError when the open fails.
std::unique_ptr<Store> openStore(const std::string& url);

// True for a PostgreSQL URL: a server that may be away for a while (restarting, failing
// over), unlike a local SQLite file.
bool isPostgresUrl(const std::string& url);

// Opens the source (producer_plant_db) named by a URL of the same forms.
std::unique_ptr<SourceStore> openSourceStore(const std::string& url);

}  // namespace leafsync
