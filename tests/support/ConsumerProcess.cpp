#include "support/ConsumerProcess.h"

#include <cstdlib>
#include <filesystem>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "Verifier.h"
#include "leafsync/SqliteSourceStore.h"
#include "leafsync/SqliteStore.h"
#include "leafsync/StoreFactory.h"
#include "support/HttpClient.h"
#include "leafsync/EventCodec.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"

namespace leafsync::testing {

ConsumerSetup::ConsumerSetup(const TempDir& dir, int partitions, const std::string& format) {
  std::string suffix = uniqueSuffix();
  for (Plant plant : kAllPlants) topics.push_back("it-" + suffix + "-" + std::string(plantName(plant)));
  dead_letter_topic = "it-" + suffix + "-dlq";
  group = "it-" + suffix;
  database_path = dir.file("consumer_plant_db.sqlite");
  config_path = dir.file("consumer.yaml");
  std::vector<std::string> all = topics;
  createTopics(topics, partitions);
  createTopics({dead_letter_topic}, 1);

  std::ofstream(dir.file("kafka.json"))
      << R"({"bootstrap.servers": ")" << testBootstrap() << R"(", "group.id": ")" << group
      << R"(", "client.id": "it-consumer", "auto.offset.reset": "earliest",)"
      << R"( "session.timeout.ms": "6000", "fetch.wait.max.ms": "50"})";
  std::ofstream yaml(config_path);
  yaml << "kafka:\n  properties: kafka.json\n  dead_letter_topic: " << dead_letter_topic << "\n"
       << "topics:\n";
  for (Plant plant : kAllPlants) {
    yaml << "  - {name: " << topic(plant) << ", plant: " << plantName(plant) << ", format: " << format << "}\n";
  }
  yaml << "database:\n  url: sqlite:" << database_path << "\n"
       << "apply: {batch_size: 500, linger_ms: 10}\nhttp: {port: 0, threads: 2}\n";

  source_database_path = dir.file("producer_plant_db.sqlite");
  producer_config_path = dir.file("producer.yaml");
  std::ofstream producer(producer_config_path);
  producer << "kafka:\n  properties: kafka.json\ntopics:\n";
  for (Plant plant : kAllPlants) producer << "  " << plantName(plant) << ": " << topic(plant) << "\n";
  producer << "database:\n  url: sqlite:" << source_database_path << "\n"
           << "http: {port: 0, threads: 2, max_body_bytes: 65536}\nrelay: {batch_size: 500, poll_ms: 10}\n";
}

ConsumerProcess::ConsumerProcess(const ConsumerSetup& setup, std::string log_path,
                                 std::map<std::string, std::string> env)
    : ServiceProcess(LEAFSYNC_CONSUMER_BIN, {"--config", setup.config_path}, std::move(log_path), std::move(env)) {}

ProducerProcess::ProducerProcess(const ConsumerSetup& setup, std::string log_path,
                                 std::map<std::string, std::string> env)
    : ServiceProcess(LEAFSYNC_PRODUCER_BIN, {"serve", "--config", setup.producer_config_path}, std::move(log_path),
                     std::move(env)) {}

namespace {
// LEAFSYNC_TEST_BIN_DIR runs the command-line tests against other builds' binaries (an older
// commit's, to see them fail there); the default is this build's.
std::string binaryPath(const char* built) {
  const char* dir = std::getenv("LEAFSYNC_TEST_BIN_DIR");
  if (!dir || !*dir) return built;
  return std::string(dir) + "/" + std::filesystem::path(built).filename().string();
}
}  // namespace

std::string producerBinary() { return binaryPath(LEAFSYNC_PRODUCER_BIN); }
std::string consumerBinary() { return binaryPath(LEAFSYNC_CONSUMER_BIN); }
std::string batchSyncBinary() { return binaryPath(LEAFSYNC_BATCH_SYNC_BIN); }

ServiceProcess::ServiceProcess(std::string binary, std::vector<std::string> args, std::string log_path,
                               std::map<std::string, std::string> env)
    : binary_(std::move(binary)), args_(std::move(args)), log_path_(std::move(log_path)), env_(std::move(env)) {}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) kill9();
}

void ServiceProcess::start() {
  if (pid_ > 0) throw std::logic_error(binary_ + " already running");
  log_offset_ = log().size();  // this run's lines start here
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    for (const auto& [key, value] : env_) setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(binary_.data());
    for (std::string& arg : args_) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  pid_ = pid;
  port_ = 0;
  exit_status_ = -1;
}

namespace {

std::int64_t procStatusKb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

}  // namespace

std::int64_t ServiceProcess::peakRssBytes() const {
  std::int64_t kb = pid_ > 0 ? procStatusKb(pid_, "VmHWM") : -1;
  return kb < 0 ? -1 : kb * 1024;
}

std::int64_t ServiceProcess::rssBytes() const {
  std::int64_t kb = pid_ > 0 ? procStatusKb(pid_, "VmRSS") : -1;
  return kb < 0 ? -1 : kb * 1024;
}

double ServiceProcess::cpuSeconds() const {
  if (pid_ <= 0) return -1;
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::size_t close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string ServiceProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint16_t ServiceProcess::waitStarted(std::chrono::milliseconds deadline) {
  const std::string started = "event=started http_port=";
  eventually(
      [&] {
        std::string text = log().substr(log_offset_);
        auto pos = text.find(started);
        if (pos != std::string::npos) port_ = static_cast<std::uint16_t>(std::stoi(text.substr(pos + started.size())));
        return port_ != 0 || !running();
      },
      deadline);
  if (port_ == 0) throw std::runtime_error(binary_ + " did not start; log:\n" + log());
  return port_;
}

bool ServiceProcess::waitReady(std::chrono::milliseconds deadline) {
  if (port_ == 0) waitStarted();
  return eventually([&] { return httpRequest(port_, "GET", "/readyz").status == 200; }, deadline,
                    std::chrono::milliseconds(50));
}

void ServiceProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  port_ = 0;
}

int ServiceProcess::terminate(std::chrono::milliseconds deadline, std::chrono::milliseconds* took) {
  if (pid_ <= 0) return -1;
  auto started = std::chrono::steady_clock::now();
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, deadline,
                           std::chrono::milliseconds(10));
  if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (!exited) {
    kill9();
    return -1;
  }
  pid_ = -1;
  port_ = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServiceProcess::wait(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return exit_status_;
  int status = 0;
  if (!eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, deadline, std::chrono::milliseconds(10))) {
    return -1;
  }
  pid_ = -1;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

bool ServiceProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::string waitForIdenticalCopy(const ConsumerSetup& setup, std::chrono::milliseconds deadline) {
  std::vector<PlantComparison> last;
  eventually(
      [&] {
        SqliteSourceStore source(setup.source_database_path);
        SqliteStore copy(setup.database_path);
        last = compareCopies(source, copy);
        return identical(last) && source.pendingCount() == 0;
      },
      deadline, std::chrono::milliseconds(100));
  if (identical(last)) return "";
  std::ostringstream out;
  for (const auto& c : last) {
    out << plantName(c.plant) << " source " << c.source_rows << " copy " << c.copy_rows << " missing " << c.missing
        << " extra " << c.extra << " differing " << c.differing << "\n";
    for (const auto& e : c.examples) out << "  " << e << "\n";
  }
  return out.str();
}

void publishChanges(StreamModel& model, std::int64_t events, const ConsumerSetup& setup) {
  TestProducer producer;
  for (std::int64_t i = 0; i < events; ++i) {
    ChangeEvent e = model.next();
    producer.send(setup.topic(e.plant), EventCodec::encodeKey(e.image.id), EventCodec::encode(e));
  }
  producer.flush();
}

std::int64_t committedEvents(const std::string& database_url) { return committedEvents(*openStore(database_url)); }

std::int64_t committedEvents(Store& copy) {
  std::int64_t total = 0;
  for (const PartitionOffset& o : copy.offsets()) total += o.next_offset;
  return total;
}

}  // namespace leafsync::testing
