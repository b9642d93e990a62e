#pragma once

#include <memory>
#include <string>

#include "leafsync/ConnectionPool.h"
#include "leafsync/Log.h"
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

// At start-up, opens the first connection of `pool` to the database at `url`. A PostgreSQL
// that is away now (restarting, not up yet in a fresh deployment) is an outage to wait out:
// logged as database_unavailable, and the pool opens connections once it answers (until then
// /readyz says why). Anything else that fails (a SQLite file that cannot be opened, an
// unsupported URL) throws: that is a configuration error.
template <typename Connection>
void openAtStartup(ConnectionPool<Connection>& pool, const std::string& url) {
  try {
    pool.openOne();
  } catch (const StoreError& e) {
    if (!isPostgresUrl(url)) throw;
    logEvent(LogLevel::Warn, "database_unavailable", {{"error", e.what()}});
  }
}

// Opens the source (producer_plant_db) named by a URL of the same forms.
std::unique_ptr<SourceStore> openSourceStore(const std::string& url);

enum class StoreKind { Source, Copy };

// Throws StoreError (std::invalid_argument for an unsupported URL) unless `url` names an
// existing leafsync store of `kind`: a SQLite file that is there and holds that schema, a
// PostgreSQL database that holds it. Creates and changes nothing, unlike the open functions
// (which create an empty store): `verify` must not pass on a mistyped path.
void requireExistingStore(const std::string& url, StoreKind kind);

}  // namespace leafsync
