#pragma once

// What the bench programs share: one copy, so they time the same way, build the same events
// and talk to Kafka the same way, and a number from one can be set beside a number from the
// other. librdkafka's headers stay in BenchSupport.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "leafsync/ChangeEvent.h"
#include "leafsync/ConsumerConfig.h"

namespace leafsync::bench {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start);

// A measurement that cannot go on. Thrown rather than exit()ed so that main() still deletes
// the topics, databases and files it made before it reports the error.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void die(const std::string& message);

// Writes back what earlier phases left dirty (the broker's log segments after a produce, the
// previous database files), so no measurement pays for another one's writeback in its fsyncs.
void settleDisk();

// The 1-minute load average, to flag runs on a machine that was busy with something else.
double loadAverage();

// For topic, group and database names: every run starts from nothing that an earlier (perhaps
// crashed) run left behind.
std::string randomSuffix();

// ----------------------------------------------------------------------------- workload ----

// What one event does; the full ChangeEvent is built from it on demand, so 200k events with
// 1 KiB images never sit in memory at once.
struct Spec {
  Op op;
  std::int64_t id;
  std::int64_t version;
};

// What Workload puts in the events, for a ceiling that writes the same values without them.
inline constexpr std::uint32_t kMetadataFields = kUpdatedAt | kIsActive | kDisease | kPercentage;
inline constexpr const char* kCreateTimestamp = "2023-10-08T15:39:49.123123";
inline constexpr const char* kUpdateTimestamp = "2023-10-09T08:00:00.000001";

// Image bytes from a fixed seed: every run, and both benches, write the same data.
class Workload {
 public:
  explicit Workload(std::size_t image_bytes);

  // Creates of ids 1..n, version 1.
  static std::vector<Spec> creates(std::int64_t n);
  // 60 % creates of new ids, 35 % metadata-only updates of live ids, 5 % deletes of live ids,
  // each change one version newer than the last one of its id.
  static std::vector<Spec> mix(std::int64_t n, std::uint64_t seed);
  static std::int64_t liveRows(const std::vector<Spec>& specs);

  const std::string& image(std::int64_t id) const;
  ChangeEvent event(const Spec& s, std::int64_t ts_ms) const;

 private:
  std::vector<std::string> images_;
};

// -------------------------------------------------------------------------------- Kafka ----

// config/kafka.dev.json of the source tree this binary was built from.
std::string devKafkaConfigPath();

// librdkafka properties from `json_path`, or what config/kafka.dev.json holds when the binary
// runs away from its source tree; then bootstrap.servers, then `overrides` on top.
std::map<std::string, std::string> kafkaProperties(
    const std::string& json_path, const std::string& bootstrap,
    const std::vector<std::pair<std::string, std::string>>& overrides = {});

// Creates the bench topics through the C Admin API and deletes them again. Connects in the
// constructor and dies there when no broker answers: fail before any measurement, not after.
// Not thread-safe.
class KafkaAdmin {
 public:
  explicit KafkaAdmin(const std::string& bootstrap);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  void createTopic(const std::string& name, int partitions);  // dies when the broker refuses
  // Deletes every topic createTopic made. Never throws: it runs on the way out, also after a
  // failure, so what goes wrong is only reported on stderr, after `program`.
  void deleteCreatedTopics(const char* program) noexcept;

 private:
  struct Handles;
  std::string bootstrap_;
  std::unique_ptr<Handles> handles_;
  std::vector<std::string> created_;
};

struct Produced {
  std::int64_t messages = 0;  // what the partitions' high watermarks say
  std::int64_t bytes = 0;
  double seconds = 0;
};

// Encodes every event with EventCodec::encode and produces it keyed by id, idempotently, then
// checks the topic's watermarks hold exactly that many: a consumer's "done" counts on it.
Produced produceEvents(const std::map<std::string, std::string>& kafka, const std::string& topic,
                       const Workload& workload, const std::vector<Spec>& specs, int partitions);

// ------------------------------------------------------------------------------ leafsync ----

// The settings of a bench TopicConsumer of `topic`: a fresh group (`client_id` and a random
// suffix) so it reads the topic from the beginning, warnings only so the log stays out of the
// timing.
ConsumerConfig consumerConfig(const std::map<std::string, std::string>& kafka,
                              const std::string& topic, const std::string& client_id,
                              const std::string& database_url);

// ---------------------------------------------------------------------------- timing ----

struct Timed {
  std::int64_t events = 0;
  double seconds = 0;
  double first_s = 0;             // until the first message / first applied batch
  std::int64_t first_events = 0;  // events done at first_s
  double apply_s = 0;             // leafsync: time inside Store::applyBatch
  std::int64_t batches = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

// Polls `applied` every poll_ms from `started` until it reaches `expected`, noting when the
// first events showed up. On timeout it calls `stop` (the consumers must be joined before the
// store they write goes) and dies, naming `what`.
Timed waitUntilApplied(Clock::time_point started, std::int64_t expected,
                       const std::function<std::int64_t()>& applied, int poll_ms,
                       double timeout_s, const std::function<void()>& stop,
                       const std::string& what);

}  // namespace leafsync::bench
