#include "leafsync/ProducerConfig.h"

#include <filesystem>

#include "leafsync/ConfigSupport.h"
#include "leafsync/ReadLimits.h"

namespace leafsync {
namespace {

using Setter = void (*)(ProducerConfig&, const std::string&);
struct Override {
  EnvOverride doc;
  Setter apply;
};

const std::vector<Override>& overrides() {
  static const std::vector<Override> table = {
      {{"LEAFSYNC_BOOTSTRAP_SERVERS", "kafka: bootstrap.servers"},
       [](ProducerConfig& c, const std::string& v) { c.kafka["bootstrap.servers"] = v; }},
      {{"LEAFSYNC_DATABASE_URL", "database.url"},
       [](ProducerConfig& c, const std::string& v) { c.database_url = v; }},
      {{"LEAFSYNC_HTTP_PORT", "http.port"},
       [](ProducerConfig& c, const std::string& v) { c.http_port = parseIntSetting(v, "LEAFSYNC_HTTP_PORT", 0, 65535); }},
      {{"LEAFSYNC_HTTP_THREADS", "http.threads"},
       [](ProducerConfig& c, const std::string& v) { c.http_threads = parseIntSetting(v, "LEAFSYNC_HTTP_THREADS", 1, 64); }},
      {{"LEAFSYNC_MAX_RESPONSE_BYTES", "http.max_response_bytes"},
       [](ProducerConfig& c, const std::string& v) {
         c.read_limits.max_response_bytes = parseIntSetting(v, "LEAFSYNC_MAX_RESPONSE_BYTES", 0, 1 << 30);
       }},
      {{"LEAFSYNC_LARGE_RESPONSE_BYTES", "http.large_response_bytes"},
       [](ProducerConfig& c, const std::string& v) {
         c.read_limits.large_response_bytes = parseIntSetting(v, "LEAFSYNC_LARGE_RESPONSE_BYTES", 0, 1 << 30);
       }},
      {{"LEAFSYNC_LARGE_RESPONSE_SLOTS", "http.large_response_slots"},
       [](ProducerConfig& c, const std::string& v) {
         c.read_limits.large_response_slots = parseIntSetting(v, "LEAFSYNC_LARGE_RESPONSE_SLOTS", 0, 256);
       }},
      {{"LEAFSYNC_MAX_BODY_BYTES", "http.max_body_bytes"},
       [](ProducerConfig& c, const std::string& v) {
         c.max_body_bytes = parseIntSetting(v, "LEAFSYNC_MAX_BODY_BYTES", 1024, 64 << 20);
       }},
      {{"LEAFSYNC_WRITE_TOKEN", "bearer token required on writes (secret; environment only)"},
       [](ProducerConfig& c, const std::string& v) { c.write_token = v; }},
      {{"LEAFSYNC_TOPIC_PREFIX", "topics: <prefix><plant> for every plant"},
       [](ProducerConfig& c, const std::string& v) {
         for (Plant p : kAllPlants) c.topics[plantIndex(p)] = v + std::string(plantName(p));
       }},
      {{"LEAFSYNC_LOG_LEVEL", "log_level"},
       [](ProducerConfig& c, const std::string& v) {
         auto level = parseLogLevel(v);
         if (!level) throw ConfigError("LEAFSYNC_LOG_LEVEL must be debug, info, warn or error");
         c.log_level = *level;
       }},
  };
  return table;
}

}  // namespace

const std::vector<EnvOverride>& producerEnvOverrides() {
  static const std::vector<EnvOverride> docs = [] {
    std::vector<EnvOverride> list;
    for (const Override& o : overrides()) list.push_back(o.doc);
    list.push_back({"LEAFSYNC_KAFKA_PROPERTIES", "kafka.properties (JSON file of librdkafka settings)"});
    return list;
  }();
  return docs;
}

ProducerConfig loadProducerConfig(const std::string& yaml_path, const Environment& env) {
  ConfigNode root = ConfigNode::load(yaml_path);
  ProducerConfig c;
  std::string properties_file;
  if (auto kafka = root["kafka"]; kafka && kafka["properties"]) {
    properties_file = yamlValue<std::string>(kafka["properties"], "kafka.properties");
  }
  auto from_env = env("LEAFSYNC_KAFKA_PROPERTIES");
  if (from_env) properties_file = *from_env;
  if (properties_file.empty()) throw ConfigError(yaml_path + ": kafka.properties is required");
  std::filesystem::path props_path(properties_file);
  if (props_path.is_relative() && !from_env) props_path = std::filesystem::path(yaml_path).parent_path() / props_path;
  c.kafka = loadKafkaProperties(props_path.string());

  if (auto topics = root["topics"]) {
    for (Plant plant : kAllPlants) {
      std::string name(plantName(plant));
      if (topics[name]) c.topics[plantIndex(plant)] = yamlValue<std::string>(topics[name], "topics." + name);
    }
  }
  if (auto db = root["database"]; db && db["url"]) c.database_url = yamlValue<std::string>(db["url"], "database.url");
  if (auto http = root["http"]) {
    if (http["port"]) c.http_port = yamlValue<int>(http["port"], "http.port");
    if (http["threads"]) c.http_threads = yamlValue<int>(http["threads"], "http.threads");
    if (http["max_body_bytes"]) c.max_body_bytes = yamlValue<int>(http["max_body_bytes"], "http.max_body_bytes");
    if (http["max_response_bytes"]) {
      c.read_limits.max_response_bytes = yamlValue<int>(http["max_response_bytes"], "http.max_response_bytes");
    }
    if (http["large_response_bytes"]) {
      c.read_limits.large_response_bytes = yamlValue<int>(http["large_response_bytes"], "http.large_response_bytes");
    }
    if (http["large_response_slots"]) {
      c.read_limits.large_response_slots = yamlValue<int>(http["large_response_slots"], "http.large_response_slots");
    }
  }
  if (auto relay = root["relay"]) {
    if (relay["batch_size"]) c.relay_batch_size = yamlValue<int>(relay["batch_size"], "relay.batch_size");
    if (relay["poll_ms"]) c.relay_poll_ms = yamlValue<int>(relay["poll_ms"], "relay.poll_ms");
  }
  if (root["log_level"]) {
    auto level = parseLogLevel(yamlValue<std::string>(root["log_level"], "log_level"));
    if (!level) throw ConfigError("log_level must be debug, info, warn or error");
    c.log_level = *level;
  }
  if (root["write_token"]) throw ConfigError(yaml_path + ": write_token must come from LEAFSYNC_WRITE_TOKEN, not a file");
  root.rejectUnknownKeys();

  for (const Override& o : overrides()) {
    if (auto value = env(o.doc.name)) o.apply(c, *value);
  }
  checkReadLimits(c.read_limits);
  if (!c.kafka.count("bootstrap.servers")) throw ConfigError("bootstrap.servers is not set");
  if (c.relay_batch_size < 1 || c.relay_poll_ms < 1) throw ConfigError("relay.batch_size and relay.poll_ms must be positive");
  return c;
}

}  // namespace leafsync
