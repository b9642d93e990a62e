#include "leafsync/ProducerConfig.h"

#include "leafsync/ConfigSetting.h"
#include "leafsync/Plant.h"

namespace leafsync {
namespace {

using Setting = ConfigSetting<ProducerConfig>;

// Every key of producer.yaml and every LEAFSYNC_* variable the producer reads.
std::vector<Setting> makeSettings() {
  using C = ProducerConfig;
  std::vector<Setting> t;
  t.push_back(kafkaPropertiesFileSetting<C>());
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
  addReadLimitSettings(t);
  t.push_back(intSetting<C>("http.max_body_bytes", "LEAFSYNC_MAX_BODY_BYTES", &C::max_body_bytes, 1024, 64 << 20));
  Setting token = setting<C>("", "LEAFSYNC_WRITE_TOKEN", "string", "bearer token required on writes (secret; environment only)");
  token.from_env = [](C& c, const std::string& v) { c.write_token = v; };
  token.value = [](const C& c) { return nlohmann::json(c.write_token); };
  t.push_back(token);
  t.push_back(intSetting<C>("relay.batch_size", "", &C::relay_batch_size, 1, 100000));
  t.push_back(intSetting<C>("relay.poll_ms", "", &C::relay_poll_ms, 1, 60000));
  t.push_back(logLevelSetting<C>());
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
  if (root["write_token"]) throw ConfigError(yaml_path + ": write_token must come from LEAFSYNC_WRITE_TOKEN, not a file");
  ProducerConfig c = readSettings(settings(), root, env);
  if (!c.kafka.count("bootstrap.servers")) throw ConfigError("bootstrap.servers is not set");
  return c;
}

}  // namespace leafsync
