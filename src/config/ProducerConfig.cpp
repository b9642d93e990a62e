#include "leafsync/ProducerConfig.h"

#include "leafsync/ConfigSetting.h"

namespace leafsync {
namespace {

using Setting = ConfigSetting<ProducerConfig>;

void setLevel(ProducerConfig& c, const std::string& value) {
  auto level = parseLogLevel(value);
  if (!level) throw ConfigError("log_level must be debug, info, warn or error, got '" + value + "'");
  c.log_level = *level;
}

// Every key of producer.yaml and every LEAFSYNC_* variable the producer reads.
std::vector<Setting> makeSettings() {
  using C = ProducerConfig;
  std::vector<Setting> t;
  Setting properties = stringSetting<C>("kafka.properties", "LEAFSYNC_KAFKA_PROPERTIES", &C::kafka_properties_file, "path");
  properties.note = "JSON file of librdkafka settings, required; from the file relative to the YAML's folder";
  properties.from_yaml = [](C& c, const ConfigNode& node) {
    c.kafka_properties_file = resolveNextTo(node.file(), yamlValue<std::string>(node, "kafka.properties"));
  };
  properties.value = nullptr;
  t.push_back(properties);
  t.push_back(kafkaPropertySetting<C>("LEAFSYNC_BOOTSTRAP_SERVERS", "bootstrap.servers"));
  for (Plant plant : kAllPlants) {
    std::string key = "topics." + std::string(plantName(plant));
    std::size_t index = plantIndex(plant);
    Setting topic = setting<C>(key, "", "string", "the topic of this plant's events");
    topic.from_yaml = [key, index](C& c, const ConfigNode& n) { c.topics[index] = yamlValue<std::string>(n, key); };
    topic.value = [index](const C& c) { return nlohmann::json(c.topics[index]); };
    t.push_back(topic);
  }
  Setting prefix = setting<C>("", "LEAFSYNC_TOPIC_PREFIX", "string", "topics: <prefix><plant> for every plant");
  prefix.from_env = [](C& c, const std::string& v) {
    for (Plant p : kAllPlants) c.topics[plantIndex(p)] = v + std::string(plantName(p));
  };
  t.push_back(prefix);
  t.push_back(stringSetting<C>("database.url", "LEAFSYNC_DATABASE_URL", &C::database_url));
  t.push_back(intSetting<C>("http.port", "LEAFSYNC_HTTP_PORT", &C::http_port, 0, 65535));
  t.push_back(intSetting<C>("http.threads", "LEAFSYNC_HTTP_THREADS", &C::http_threads, 1, 64));
  t.push_back(intSetting<C>("http.max_response_bytes", "LEAFSYNC_MAX_RESPONSE_BYTES", &C::read_limits,
                            &ReadLimits::max_response_bytes, 64 << 10, 1 << 30));
  t.push_back(intSetting<C>("http.large_response_bytes", "LEAFSYNC_LARGE_RESPONSE_BYTES", &C::read_limits,
                            &ReadLimits::large_response_bytes, 4 << 10, 1 << 30));
  t.push_back(intSetting<C>("http.large_response_slots", "LEAFSYNC_LARGE_RESPONSE_SLOTS", &C::read_limits,
                            &ReadLimits::large_response_slots, 1, 256));
  t.push_back(intSetting<C>("http.max_body_bytes", "LEAFSYNC_MAX_BODY_BYTES", &C::max_body_bytes, 1024, 64 << 20));
  Setting token = setting<C>("", "LEAFSYNC_WRITE_TOKEN", "string", "bearer token required on writes (secret; environment only)");
  token.from_env = [](C& c, const std::string& v) { c.write_token = v; };
  token.value = [](const C& c) { return nlohmann::json(c.write_token); };
  t.push_back(token);
  t.push_back(intSetting<C>("relay.batch_size", "", &C::relay_batch_size, 1, 100000));
  t.push_back(intSetting<C>("relay.poll_ms", "", &C::relay_poll_ms, 1, 60000));
  Setting level = setting<C>("log_level", "LEAFSYNC_LOG_LEVEL", "enum", "");
  level.from_yaml = [](C& c, const ConfigNode& n) { setLevel(c, yamlValue<std::string>(n, "log_level")); };
  level.from_env = setLevel;
  level.value = [](const C& c) { return nlohmann::json(logLevelName(c.log_level)); };
  level.limits = {{"values", {"debug", "info", "warn", "error"}}};
  t.push_back(level);
  return t;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = makeSettings();
  return table;
}

}  // namespace

const std::vector<EnvOverride>& producerEnvOverrides() {
  static const std::vector<EnvOverride> docs = envOverridesOf(settings());
  return docs;
}

nlohmann::json describeProducerSettings() { return describeSettings(settings()); }

ProducerConfig loadProducerConfig(const std::string& yaml_path, const Environment& env) {
  ConfigNode root = ConfigNode::load(yaml_path);
  ProducerConfig c;
  readYamlSettings(settings(), root, c);
  if (root["write_token"]) throw ConfigError(yaml_path + ": write_token must come from LEAFSYNC_WRITE_TOKEN, not a file");
  root.rejectUnknownKeys();
  readEnvironmentSettings(settings(), env, c);
  if (c.kafka_properties_file.empty()) throw ConfigError(yaml_path + ": kafka.properties is required");
  c.kafka = withKafkaProperties(loadKafkaProperties(c.kafka_properties_file), c.kafka);
  if (!c.kafka.count("bootstrap.servers")) throw ConfigError("bootstrap.servers is not set");
  return c;
}

}  // namespace leafsync
