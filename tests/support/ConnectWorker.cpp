#include "support/ConnectWorker.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/KafkaTestKit.h"

namespace leafsync::testing {

namespace {
// Single-quoted for sh; the paths are the test's own temp dirs, never user input.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

ConnectWorker::ConnectWorker(std::string data_dir, int rest_port, const std::vector<std::string>& connector_configs,
                             std::string plugins)
    : data_dir_(std::move(data_dir)), rest_port_(rest_port), plugins_(std::move(plugins)) {
  std::string command = "start";
  for (const std::string& config : connector_configs) command += " " + quoted(config);
  std::string failure = run(command);
  if (!failure.empty()) throw std::runtime_error("scripts/connect.sh start failed: " + failure + "\n" + log());
}

ConnectWorker::~ConnectWorker() { run("stop"); }

std::string ConnectWorker::run(const std::string& command) const {
  std::string line = "CONNECT_REST_PORT=" + std::to_string(rest_port_) + " CONNECT_BOOTSTRAP=" +
                     quoted(testBootstrap()) + " CONNECT_DATA_DIR=" + quoted(data_dir_) +
                     " CONNECT_PLUGINS=" + quoted(plugins_) + " " LEAFSYNC_SCRIPTS_DIR "/connect.sh " + command +
                     " >>" + quoted(data_dir_ + ".script.log") + " 2>&1";
  int status = std::system(line.c_str());
  if (status == 0) return "";
  std::ifstream in(data_dir_ + ".script.log");
  std::stringstream s;
  s << in.rdbuf();
  return "exit status " + std::to_string(status) + "; " + s.str();
}

std::string ConnectWorker::log() const {
  std::ifstream in(data_dir_ + "/connect.log");
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > 20000 ? text.substr(text.size() - 20000) : text;
}

int testConnectPort() {
  const char* port = std::getenv("LEAFSYNC_TEST_CONNECT_PORT");
  return port && *port ? std::atoi(port) : 18083;
}

}  // namespace leafsync::testing
