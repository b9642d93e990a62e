#pragma once

#include <string>
#include <vector>

namespace leafsync::testing {

// A real Kafka Connect standalone worker (scripts/connect.sh) running the given connector
// configs against the test broker, in its own data dir, on its own REST port. The constructor
// returns once every connector and task is RUNNING (throws otherwise); the destructor stops it.
class ConnectWorker {
 public:
  ConnectWorker(std::string data_dir, int rest_port, const std::vector<std::string>& connector_configs,
                std::string plugins = "debezium-connector-postgres");
  ~ConnectWorker();
  ConnectWorker(const ConnectWorker&) = delete;
  ConnectWorker& operator=(const ConnectWorker&) = delete;

  // The worker's log (connector errors, snapshot progress).
  std::string log() const;

 private:
  std::string run(const std::string& command) const;
  std::string data_dir_;
  int rest_port_;
  std::string plugins_;
};

// LEAFSYNC_TEST_CONNECT_PORT (the test command sets it), else 18083.
int testConnectPort();

}  // namespace leafsync::testing
