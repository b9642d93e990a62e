#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "leafsync/Plant.h"
#include "support/Eventually.h"
#include "support/TempDir.h"

namespace leafsync {
class Store;
}

namespace leafsync::testing {

class StreamModel;

// A pipeline set up for one test: its own topics (unique names mapped to the plants), group,
// dead-letter topic, SQLite source and copy, and the config files of both services, all
// created on the real broker.
struct ConsumerSetup {
  explicit ConsumerSetup(const TempDir& dir, int partitions = 3, const std::string& format = "native");

  std::string topic(Plant plant) const { return topics.at(plantIndex(plant)); }

  std::vector<std::string> topics;  // by plant index
  std::string dead_letter_topic;
  std::string group;
  std::string database_path;         // the copy
  std::string config_path;           // consumer.yaml
  std::string source_database_path;  // the producer's source
  std::string producer_config_path;  // producer.yaml
};

// A real leafsync binary (consumer or producer) as a child process, logging to a file.
class ServiceProcess {
 public:
  ServiceProcess(std::string binary, std::vector<std::string> args, std::string log_path,
                 std::map<std::string, std::string> env = {});
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  void start();
  // Waits for the "started" log line and returns the HTTP port it bound.
  std::uint16_t waitStarted(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  bool waitReady(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  void kill9();
  // SIGTERM and wait; returns the exit code (or 128+signal), -1 if it did not exit in time.
  int terminate(std::chrono::milliseconds deadline, std::chrono::milliseconds* took = nullptr);
  // Waits for the process to exit by itself (or takes the status running() saw); returns its
  // exit code, -1 on timeout.
  int wait(std::chrono::milliseconds deadline);
  bool running();
  std::uint16_t port() const { return port_; }
  std::string log() const;
  pid_t pid() const { return pid_; }
  // From /proc of the running process: its peak resident set (VmHWM) and current one (VmRSS)
  // in bytes, and the CPU time it used (user + system) in seconds; -1 when it is not running.
  std::int64_t peakRssBytes() const;
  std::int64_t rssBytes() const;
  double cpuSeconds() const;

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::size_t log_offset_ = 0;
  int exit_status_ = -1;
};

// The consumer binary with the setup's config.
class ConsumerProcess : public ServiceProcess {
 public:
  ConsumerProcess(const ConsumerSetup& setup, std::string log_path, std::map<std::string, std::string> env = {});
};

// `leafsync-producer serve` with the setup's config.
class ProducerProcess : public ServiceProcess {
 public:
  ProducerProcess(const ConsumerSetup& setup, std::string log_path, std::map<std::string, std::string> env = {});
};

std::string producerBinary();
std::string consumerBinary();
std::string batchSyncBinary();

// Waits until the setup's copy equals its source row by row and the source's outbox is empty;
// returns what still differed at the deadline, per plant with examples ("" = identical).
std::string waitForIdenticalCopy(const ConsumerSetup& setup, std::chrono::milliseconds deadline);

// Publishes the model's next `events` changes to the setup's topics, keyed by image id, and
// returns once the broker has acknowledged all of them.
void publishChanges(StreamModel& model, std::int64_t events, const ConsumerSetup& setup);

// Messages the copy at `database_url` has applied: its stored next offsets summed over every
// partition (the topics of a test start at offset 0).
std::int64_t committedEvents(const std::string& database_url);
// The same on a store already open (opening one migrates, which needs the write lock).
std::int64_t committedEvents(Store& copy);

}  // namespace leafsync::testing
