#pragma once

#include <cstdint>
#include <string>

namespace leafsync::testing {

// A port nothing listens on, and the one after it, below Linux's ephemeral range (32768+).
std::uint16_t freePortPair();

// A Kafka broker or PostgreSQL server of one test's own, started and stopped by the project's
// scripts (scripts/kafka.sh, scripts/postgres.sh) on a free port below 32768, so a test that
// stops it disturbs no other test. Data is deleted when the object goes away.
class ScriptedServer {
 public:
  enum class Kind { Kafka, Postgres };

  explicit ScriptedServer(Kind kind);  // starts it; throws if it does not come up
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  void stop();   // throws if the script fails
  void kill9();  // Kafka only: SIGKILL, a crash rather than a shutdown
  void start();  // throws if the script fails

  // Kafka: the bootstrap address; PostgreSQL: a libpq URL of its `postgres` database.
  std::string address() const;

 private:
  void run(const std::string& command) const;

  Kind kind_;
  std::uint16_t port_;
};

}  // namespace leafsync::testing
