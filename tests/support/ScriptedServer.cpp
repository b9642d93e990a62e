#include "support/ScriptedServer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

namespace leafsync::testing {
namespace {

bool portFree(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

}  // namespace

// Below the ephemeral range, where an outgoing connection could take it; the port after it is
// free too (the broker's controller listens there).
std::uint16_t freePortPair() {
  std::random_device seed;
  std::mt19937 rng(seed());
  std::uniform_int_distribution<int> pick(26000, 31998);
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto port = static_cast<std::uint16_t>(pick(rng));
    if (portFree(port) && portFree(static_cast<std::uint16_t>(port + 1))) return port;
  }
  throw std::runtime_error("no free port pair in 26000-31999");
}

ScriptedServer::ScriptedServer(Kind kind) : kind_(kind), port_(freePortPair()) { start(); }

ScriptedServer::~ScriptedServer() {
  try {
    run("stop --purge");
  } catch (const std::exception&) {
    // Nothing to do in a destructor; the data directory names the port for a manual clean-up.
  }
}

void ScriptedServer::start() { run("start"); }
void ScriptedServer::stop() { run("stop"); }
void ScriptedServer::kill9() { run("stop --kill"); }

std::string ScriptedServer::address() const {
  std::string port = std::to_string(port_);
  return kind_ == Kind::Kafka ? "127.0.0.1:" + port : "postgresql://leafsync@127.0.0.1:" + port + "/postgres";
}

void ScriptedServer::run(const std::string& command) const {
  // The data directory is emptied on purpose: the scripts then derive it from the port, so a
  // KAFKA_DATA_DIR or LEAFSYNC_PG_DATA the test inherited never points two servers at one.
  std::string port = std::to_string(port_);
  std::string env = kind_ == Kind::Kafka
                        ? "KAFKA_PORT=" + port + " KAFKA_CONTROLLER_PORT=" + std::to_string(port_ + 1) + " KAFKA_DATA_DIR="
                        : "PGPORT=" + port + " LEAFSYNC_PG_DATA=";
  std::string script = kind_ == Kind::Kafka ? "kafka.sh" : "postgres.sh";
  std::string line = "env " + env + " " + std::string(LEAFSYNC_SCRIPTS_DIR) + "/" + script + " " + command + " >/dev/null 2>&1";
  if (std::system(line.c_str()) != 0) throw std::runtime_error("failed: " + line);
}

}  // namespace leafsync::testing
