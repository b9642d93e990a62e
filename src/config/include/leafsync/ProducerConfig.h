#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "leafsync/ConfigError.h"
#include "leafsync/Environment.h"
#include "leafsync/Log.h"
#include "leafsync/ReadLimits.h"

namespace leafsync {

struct ProducerConfig {
  std::map<std::string, std::string> kafka;  // librdkafka properties, passed through
  std::string kafka_properties_file;         // the JSON file they were read from
  std::array<std::string, 3> topics = {"potato", "tomato", "pepper"};  // by plant index
  std::string database_url = "sqlite:var/producer_plant_db.sqlite";
  int http_port = 8080;
  int http_threads = 2;
  int max_body_bytes = 1 << 20;
  ReadLimits read_limits;  // http.max_response_bytes, http.large_response_bytes, http.large_response_slots
  // Bearer token that writes must carry; empty = writes are open. Only from the environment
  // (LEAFSYNC_WRITE_TOKEN, a Kubernetes Secret), never from a file in the repo.
  std::string write_token;
  int relay_batch_size = 1000;
  int relay_poll_ms = 20;
  LogLevel log_level = LogLevel::Info;
};

const std::vector<EnvOverride>& producerEnvOverrides();
// {"keys": [...], "env": [...]}: every key of producer.yaml and every LEAFSYNC_* variable the
// loader reads, with type, bounds and default (the loader's own table; --describe).
nlohmann::json describeProducerSettings();

// Throws ConfigError naming the setting that is wrong.
ProducerConfig loadProducerConfig(const std::string& yaml_path, const Environment& env);

}  // namespace leafsync
