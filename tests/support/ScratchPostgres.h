#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace leafsync {
class PostgresConnection;
}

namespace leafsync::testing {

// A database of its own on the PostgreSQL that LEAFSYNC_TEST_POSTGRES_URL names, dropped (with
// whatever is still connected) when the object goes away.
class ScratchPostgres {
 public:
  explicit ScratchPostgres(const std::string& admin_url);
  ~ScratchPostgres();
  const std::string& url() const { return url_; }
  PostgresConnection& admin() { return *admin_; }
  // Ends the server process `pid` (a store's connection), as an outage would, and waits until
  // it is gone; a test failure if it lingers.
  void terminateBackend(int pid);

 private:
  std::unique_ptr<PostgresConnection> admin_;
  std::string name_;
  std::string url_;
};

// LEAFSYNC_TEST_POSTGRES_URL, or empty when the PostgreSQL tests are to be skipped.
std::string postgresTestUrl();

}  // namespace leafsync::testing
