#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "leafsync/ConfigError.h"
#include "leafsync/Environment.h"
#include "leafsync/Log.h"
#include "leafsync/Plant.h"
#include "leafsync/ReadLimits.h"

namespace leafsync {

enum class EventFormat { Native, Debezium };

struct TopicConfig {
  std::string name;
  Plant plant = Plant::Potato;
  EventFormat format = EventFormat::Native;
};

constexpr int kMaxFirstAssignmentWaitMs = 60000;

struct ConsumerConfig {
  // librdkafka properties from the JSON file the YAML names, passed through as they are,
  // then the LEAFSYNC_* overrides.
  std::map<std::string, std::string> kafka;
  std::string dead_letter_topic = "leafsync.dlq";
  bool start_from_latest_when_empty = false;
  // At stop, a topic consumer that never got partitions waits this long for its first
  // assignment before closing (librdkafka < 2.3 aborts when such a consumer is destroyed; see
  // GroupConsumer::run). It bounds the stop when no broker answers, which must stay inside the
  // manifests' grace period minus preStop (scripts/check_manifests.py checks it).
  int first_assignment_wait_ms = 3000;
  std::vector<TopicConfig> topics;
  // The JSON file `kafka` was read from (kafka.properties, LEAFSYNC_KAFKA_PROPERTIES).
  std::string kafka_properties_file;
  std::string database_url = "sqlite:var/consumer_plant_db.sqlite";
  int batch_size = 1000;
  int linger_ms = 20;
  int http_port = 8080;
  int http_threads = 2;
  ReadLimits read_limits;  // http.max_response_bytes, http.large_response_bytes, http.large_response_slots
  std::string producer_url;  // where writes go; empty means this copy refuses them
  int write_wait_ms = 5000;  // how long a forwarded write waits to be applied to this copy
  int ready_max_lag = 1000;  // readiness: at most this many events behind on every partition
  // A partition behind whose committed offset has not moved for this long is stalled: not
  // ready, leafsync_partition_stalled = 1, a log line with its last error.
  int stall_after_s = 30;
  LogLevel log_level = LogLevel::Info;
  // memory.budget_mb: what the Kafka path (prefetch queues, fetch buffers, batches in hand)
  // may hold at most, all partitions together; 0 leaves librdkafka's own limits
  // (docs/deploy.md, "Memory"). The consumer derives its librdkafka limits and
  // batch_max_bytes from it at start-up (MemoryPlan).
  int memory_budget_mb = 0;
  // A batch in hand is applied once its messages hold this many bytes; 0: only batch_size
  // counts. Set from memory_budget_mb, not read from the YAML.
  std::size_t batch_max_bytes = 0;
};

const std::vector<EnvOverride>& consumerEnvOverrides();
// {"keys": [...], "env": [...]}: every key of consumer.yaml and every LEAFSYNC_* variable
// the loader reads, with type, bounds and default (the loader's own table; --describe).
nlohmann::json describeConsumerSettings();

// Throws ConfigError naming the file and the setting that is wrong.
ConsumerConfig loadConsumerConfig(const std::string& yaml_path, const Environment& env);

}  // namespace leafsync
