#include "support/ScratchPostgres.h"

#include <chrono>
#include <cstdlib>
#include <thread>

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

void ScratchPostgres::terminateBackend(int pid) {
  admin_->ensureOpen();
  PgResult r = admin_->execParams("SELECT pg_terminate_backend($1)", PgParams().add(std::int32_t{pid}));
  ASSERT_TRUE(r.getBool(0, 0)) << "no backend " << pid;
  for (int i = 0; i < 500; ++i) {
    PgResult alive =
        admin_->execParams("SELECT 1 FROM pg_stat_activity WHERE pid = $1", PgParams().add(std::int32_t{pid}));
    if (alive.rows() == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "backend " << pid << " still alive";
}

std::string postgresTestUrl() {
  const char* url = std::getenv("LEAFSYNC_TEST_POSTGRES_URL");
  return url && *url ? url : "";
}

}  // namespace leafsync::testing
