#include "leafsync/StoreFactory.h"

#include <stdexcept>

#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresSourceStore.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/Redact.h"
#include "leafsync/SqliteSourceStore.h"
#include "leafsync/SqliteStore.h"

namespace leafsync {
namespace {

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The SQLite file path a URL names; throws std::invalid_argument for other databases.
std::string sqlitePath(const std::string& url) {
  if (startsWith(url, "sqlite://")) return url.substr(9);
  if (startsWith(url, "sqlite:")) return url.substr(7);
  if (url.find("://") != std::string::npos || startsWith(url, "postgres")) {
    throw std::invalid_argument("unsupported database URL '" + redactUrl(url) +
                                "' (use sqlite:PATH or postgresql://user@host:port/db)");
  }
  return url;
}

}  // namespace

// libpq's URL forms: postgresql://user@host:port/db?param=value (or postgres://).
bool isPostgresUrl(const std::string& url) {
  return startsWith(url, "postgresql://") || startsWith(url, "postgres://");
}

std::unique_ptr<Store> openStore(const std::string& url) {
  if (isPostgresUrl(url)) return std::make_unique<PostgresStore>(url);
  return std::make_unique<SqliteStore>(sqlitePath(url));
}

void requireExistingStore(const std::string& url, StoreKind kind) {
  const bool source = kind == StoreKind::Source;
  const std::string role = std::string(source ? "the source" : "the copy") + " '" + redactUrl(url) + "'";
  bool holds = false;
  try {
    if (isPostgresUrl(url)) {
      PostgresConnection db(url);
      holds = installedSchemaVersion(db, source ? "source" : "copy") > 0;
    } else {
      std::string path = sqlitePath(url);
      holds = source ? SqliteSourceStore::holdsSource(path) : SqliteStore::holdsCopy(path);
    }
  } catch (const StoreError& e) {
    throw StoreError(role + ": " + e.what());
  }
  if (!holds) {
    throw StoreError(role + " is not " +
                     (source ? "a leafsync source (producer_plant_db)" : "a leafsync copy (consumer_plant_db)") +
                     ": it holds no such schema");
  }
}

std::unique_ptr<SourceStore> openSourceStore(const std::string& url) {
  if (isPostgresUrl(url)) return std::make_unique<PostgresSourceStore>(url);
  return std::make_unique<SqliteSourceStore>(sqlitePath(url));
}

}  // namespace leafsync
