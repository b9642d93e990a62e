#include "support/ScratchPostgres.h"

#include <cstdlib>

#include "leafsync/PostgresConnection.h"
#include "support/TempDir.h"

namespace leafsync::testing {

ScratchPostgres::ScratchPostgres(const std::string& admin_url)
    : admin_(std::make_unique<PostgresConnection>(admin_url)), name_("leafsync_it_" + uniqueSuffix()) {
  admin_->ensureOpen();
  admin_->exec("CREATE DATABASE " + admin_->escapeIdentifier(name_));
  url_ = postgresUrlWithDatabase(admin_url, name_);
}

ScratchPostgres::~ScratchPostgres() {
  try {
    admin_->ensureOpen();
    admin_->exec("DROP DATABASE IF EXISTS " + admin_->escapeIdentifier(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The server went away with the test; nothing left to drop.
  }
}

std::string postgresTestUrl() {
  const char* url = std::getenv("LEAFSYNC_TEST_POSTGRES_URL");
  return url && *url ? url : "";
}

}  // namespace leafsync::testing
