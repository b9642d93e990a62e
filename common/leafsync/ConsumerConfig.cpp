#include "leafsync/ConsumerConfig.h"

#include "leafsync/ConfigSupport.h"
#include "leafsync/ReadLimits.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace leafsync {
namespace {

namespace fs = std::filesystem;

void setStartWhenEmpty(ConsumerConfig& c, const std::string& value) {
  if (value != "earliest" && value != "latest") {
    throw ConfigError("start_when_empty must be 'earliest' or 'latest', got '" + value + "'");
  }
  c.start_from_latest_when_empty = value == "latest";
}

void setLogLevel(ConsumerConfig& c, const std::string& value) {
  auto level = parseLogLevel(value);
  if (!level) throw ConfigError("log_level must be debug, info, warn or error, got '" + value + "'");
  c.log_level = *level;
}

std::vector<TopicConfig> parseTopicList(const std::string& list) {
  std::vector<TopicConfig> topics;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    if (!name.empty()) {
      auto plant = parsePlant(name);
      if (!plant) throw ConfigError("LEAFSYNC_TOPICS: '" + name + "' is not a plant");
      topics.push_back({name, *plant, EventFormat::Native});
    }
    start = end + 1;
  }
  return topics;
}

using Setter = void (*)(ConsumerConfig&, const std::string&);
struct Override {
  EnvOverride doc;
  Setter apply;
};

const std::vector<Override>& overrides() {
  static const std::vector<Override> table = {
      {{"LEAFSYNC_BOOTSTRAP_SERVERS", "kafka: bootstrap.servers"},
       [](ConsumerConfig& c, const std::string& v) { c.kafka["bootstrap.servers"] = v; }},
      {{"LEAFSYNC_GROUP_ID", "kafka: group.id"},
       [](ConsumerConfig& c, const std::string& v) { c.kafka["group.id"] = v; }},
      {{"LEAFSYNC_GROUP_INSTANCE_ID", "kafka: group.instance.id (static membership)"},
       [](ConsumerConfig& c, const std::string& v) { c.kafka["group.instance.id"] = v; }},
      {{"LEAFSYNC_DATABASE_URL", "database.url"},
       [](ConsumerConfig& c, const std::string& v) { c.database_url = v; }},
      {{"LEAFSYNC_HTTP_PORT", "http.port"},
       [](ConsumerConfig& c, const std::string& v) {
         c.http_port = parseIntSetting(v, "LEAFSYNC_HTTP_PORT", 0, 65535);
       }},
      {{"LEAFSYNC_HTTP_THREADS", "http.threads"},
       [](ConsumerConfig& c, const std::string& v) {
         c.http_threads = parseIntSetting(v, "LEAFSYNC_HTTP_THREADS", 1, 64);
       }},
      {{"LEAFSYNC_MAX_RESPONSE_BYTES", "http.max_response_bytes"},
       [](ConsumerConfig& c, const std::string& v) {
         c.read_limits.max_response_bytes = parseIntSetting(v, "LEAFSYNC_MAX_RESPONSE_BYTES", 0, 1 << 30);
       }},
      {{"LEAFSYNC_LARGE_RESPONSE_BYTES", "http.large_response_bytes"},
       [](ConsumerConfig& c, const std::string& v) {
         c.read_limits.large_response_bytes = parseIntSetting(v, "LEAFSYNC_LARGE_RESPONSE_BYTES", 0, 1 << 30);
       }},
      {{"LEAFSYNC_LARGE_RESPONSE_SLOTS", "http.large_response_slots"},
       [](ConsumerConfig& c, const std::string& v) {
         c.read_limits.large_response_slots = parseIntSetting(v, "LEAFSYNC_LARGE_RESPONSE_SLOTS", 0, 256);
       }},
      {{"LEAFSYNC_BATCH_SIZE", "apply.batch_size"},
       [](ConsumerConfig& c, const std::string& v) {
         c.batch_size = parseIntSetting(v, "LEAFSYNC_BATCH_SIZE", 1, 100000);
       }},
      {{"LEAFSYNC_LINGER_MS", "apply.linger_ms"},
       [](ConsumerConfig& c, const std::string& v) {
         c.linger_ms = parseIntSetting(v, "LEAFSYNC_LINGER_MS", 0, 60000);
       }},
      {{"LEAFSYNC_DLQ_TOPIC", "kafka.dead_letter_topic"},
       [](ConsumerConfig& c, const std::string& v) { c.dead_letter_topic = v; }},
      {{"LEAFSYNC_START_WHEN_EMPTY", "kafka.start_when_empty"}, setStartWhenEmpty},
      {{"LEAFSYNC_FIRST_ASSIGNMENT_WAIT_MS", "kafka.first_assignment_wait_ms"},
       [](ConsumerConfig& c, const std::string& v) {
         c.first_assignment_wait_ms = parseIntSetting(v, "LEAFSYNC_FIRST_ASSIGNMENT_WAIT_MS", 0, kMaxFirstAssignmentWaitMs);
       }},
      {{"LEAFSYNC_TOPICS", "topics (comma-separated plant topics, native format)"},
       [](ConsumerConfig& c, const std::string& v) { c.topics = parseTopicList(v); }},
      {{"LEAFSYNC_PRODUCER_URL", "producer_url"},
       [](ConsumerConfig& c, const std::string& v) { c.producer_url = v; }},
      {{"LEAFSYNC_WRITE_WAIT_MS", "write_wait_ms"},
       [](ConsumerConfig& c, const std::string& v) {
         c.write_wait_ms = parseIntSetting(v, "LEAFSYNC_WRITE_WAIT_MS", 0, 600000);
       }},
      {{"LEAFSYNC_READY_MAX_LAG", "ready_max_lag"},
       [](ConsumerConfig& c, const std::string& v) {
         c.ready_max_lag = parseIntSetting(v, "LEAFSYNC_READY_MAX_LAG", 0, 100000000);
       }},
      {{"LEAFSYNC_STALL_AFTER_S", "stall_after_s"},
       [](ConsumerConfig& c, const std::string& v) {
         c.stall_after_s = parseIntSetting(v, "LEAFSYNC_STALL_AFTER_S", 1, 86400);
       }},
      {{"LEAFSYNC_LOG_LEVEL", "log_level"}, setLogLevel},
      {{"LEAFSYNC_MEMORY_BUDGET_MB", "memory.budget_mb"},
       [](ConsumerConfig& c, const std::string& v) {
         c.memory_budget_mb = parseIntSetting(v, "LEAFSYNC_MEMORY_BUDGET_MB", 0, 1 << 20);
       }},
  };
  return table;
}

}  // namespace

Environment processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

const std::vector<EnvOverride>& consumerEnvOverrides() {
  static const std::vector<EnvOverride> docs = [] {
    std::vector<EnvOverride> list;
    for (const Override& o : overrides()) list.push_back(o.doc);
    list.push_back({"LEAFSYNC_KAFKA_PROPERTIES", "kafka.properties (JSON file of librdkafka settings)"});
    return list;
  }();
  return docs;
}

std::map<std::string, std::string> loadKafkaProperties(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) throw ConfigError("cannot read Kafka properties file '" + json_path + "'");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError("'" + json_path + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError("'" + json_path + "' must hold one JSON object");
  std::map<std::string, std::string> props;
  for (auto& [key, value] : j.items()) {
    if (value.is_string()) {
      props[key] = value.get<std::string>();
    } else if (value.is_number() || value.is_boolean()) {
      props[key] = value.dump();
    } else {
      throw ConfigError("'" + json_path + "': property '" + key + "' must be a string, number or boolean");
    }
  }
  return props;
}

ConsumerConfig loadConsumerConfig(const std::string& yaml_path, const Environment& env) {
  ConfigNode root = ConfigNode::load(yaml_path);
  ConsumerConfig c;
  fs::path base = fs::path(yaml_path).parent_path();

  std::string properties_file;
  if (auto kafka = root["kafka"]) {
    if (kafka["properties"]) properties_file = yamlValue<std::string>(kafka["properties"], "kafka.properties");
    if (kafka["dead_letter_topic"]) c.dead_letter_topic = yamlValue<std::string>(kafka["dead_letter_topic"], "kafka.dead_letter_topic");
    if (kafka["start_when_empty"]) setStartWhenEmpty(c, yamlValue<std::string>(kafka["start_when_empty"], "kafka.start_when_empty"));
    if (kafka["first_assignment_wait_ms"]) {
      c.first_assignment_wait_ms = yamlValue<int>(kafka["first_assignment_wait_ms"], "kafka.first_assignment_wait_ms");
    }
  }
  if (auto from_env = env("LEAFSYNC_KAFKA_PROPERTIES")) properties_file = *from_env;
  if (properties_file.empty()) throw ConfigError(yaml_path + ": kafka.properties is required");
  fs::path props_path(properties_file);
  if (props_path.is_relative() && !env("LEAFSYNC_KAFKA_PROPERTIES")) props_path = base / props_path;
  c.kafka = loadKafkaProperties(props_path.string());

  if (auto topics = root["topics"]) {
    for (const auto& t : topics) {
      TopicConfig topic;
      topic.name = yamlValue<std::string>(t["name"], "topics[].name");
      std::string plant = t["plant"] ? yamlValue<std::string>(t["plant"], "topics[].plant") : topic.name;
      auto parsed = parsePlant(plant);
      if (!parsed) throw ConfigError(yaml_path + ": topic '" + topic.name + "' has unknown plant '" + plant + "'");
      topic.plant = *parsed;
      std::string format = t["format"] ? yamlValue<std::string>(t["format"], "topics[].format") : "native";
      if (format == "native") {
        topic.format = EventFormat::Native;
      } else if (format == "debezium") {
        topic.format = EventFormat::Debezium;
      } else {
        throw ConfigError(yaml_path + ": topic '" + topic.name + "' format must be native or debezium");
      }
      c.topics.push_back(topic);
    }
  }
  if (auto db = root["database"]; db && db["url"]) c.database_url = yamlValue<std::string>(db["url"], "database.url");
  if (auto apply = root["apply"]) {
    if (apply["batch_size"]) c.batch_size = yamlValue<int>(apply["batch_size"], "apply.batch_size");
    if (apply["linger_ms"]) c.linger_ms = yamlValue<int>(apply["linger_ms"], "apply.linger_ms");
  }
  if (auto http = root["http"]) {
    if (http["port"]) c.http_port = yamlValue<int>(http["port"], "http.port");
    if (http["threads"]) c.http_threads = yamlValue<int>(http["threads"], "http.threads");
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
  if (root["producer_url"]) c.producer_url = yamlValue<std::string>(root["producer_url"], "producer_url");
  if (root["ready_max_lag"]) c.ready_max_lag = yamlValue<int>(root["ready_max_lag"], "ready_max_lag");
  if (root["stall_after_s"]) c.stall_after_s = yamlValue<int>(root["stall_after_s"], "stall_after_s");
  if (root["write_wait_ms"]) c.write_wait_ms = yamlValue<int>(root["write_wait_ms"], "write_wait_ms");
  if (auto memory = root["memory"]; memory && memory["budget_mb"]) {
    c.memory_budget_mb = yamlValue<int>(memory["budget_mb"], "memory.budget_mb");
  }
  if (root["log_level"]) setLogLevel(c, yamlValue<std::string>(root["log_level"], "log_level"));
  root.rejectUnknownKeys();

  for (const Override& o : overrides()) {
    if (auto value = env(o.doc.name)) o.apply(c, *value);
  }

  if (c.topics.empty()) {
    for (Plant plant : kAllPlants) c.topics.push_back({std::string(plantName(plant)), plant, EventFormat::Native});
  }
  if (c.batch_size < 1) throw ConfigError("apply.batch_size must be at least 1");
  if (c.linger_ms < 0) throw ConfigError("apply.linger_ms must not be negative");
  if (c.memory_budget_mb < 0) throw ConfigError("memory.budget_mb must not be negative");
  if (c.http_threads < 1) throw ConfigError("http.threads must be at least 1");
  if (c.first_assignment_wait_ms < 0 || c.first_assignment_wait_ms > kMaxFirstAssignmentWaitMs) {
    throw ConfigError("kafka.first_assignment_wait_ms must be in [0, " + std::to_string(kMaxFirstAssignmentWaitMs) + "]");
  }
  checkReadLimits(c.read_limits);
  if (!c.kafka.count("bootstrap.servers")) throw ConfigError("bootstrap.servers is not set (kafka properties or LEAFSYNC_BOOTSTRAP_SERVERS)");
  if (!c.kafka.count("group.id")) throw ConfigError("group.id is not set (kafka properties or LEAFSYNC_GROUP_ID)");
  return c;
}

}  // namespace leafsync
