#include "leafsync/ConsumerConfig.h"

#include "leafsync/ConfigSetting.h"

#include <nlohmann/json.hpp>

namespace leafsync {
namespace {

void setStartWhenEmpty(ConsumerConfig& c, const std::string& value) {
  if (value != "earliest" && value != "latest") {
    throw ConfigError("start_when_empty must be 'earliest' or 'latest', got '" + value + "'");
  }
  c.start_from_latest_when_empty = value == "latest";
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

std::vector<TopicConfig> parseTopicItems(const ConfigNode& items) {
  std::vector<TopicConfig> topics;
  for (const auto& t : items) {
    TopicConfig topic;
    topic.name = yamlValue<std::string>(t["name"], "topics[].name");
    std::string plant = t["plant"] ? yamlValue<std::string>(t["plant"], "topics[].plant") : topic.name;
    auto parsed = parsePlant(plant);
    if (!parsed) throw ConfigError(items.file() + ": topic '" + topic.name + "' has unknown plant '" + plant + "'");
    topic.plant = *parsed;
    std::string format = t["format"] ? yamlValue<std::string>(t["format"], "topics[].format") : "native";
    if (format == "native") {
      topic.format = EventFormat::Native;
    } else if (format == "debezium") {
      topic.format = EventFormat::Debezium;
    } else {
      throw ConfigError(items.file() + ": topic '" + topic.name + "' format must be native or debezium");
    }
    topics.push_back(topic);
  }
  return topics;
}

nlohmann::json plantNames() {
  nlohmann::json names = nlohmann::json::array();
  for (Plant p : kAllPlants) names.push_back(std::string(plantName(p)));
  return names;
}

using Setting = ConfigSetting<ConsumerConfig>;

// Every key of consumer.yaml and every LEAFSYNC_* variable the consumer reads.
std::vector<Setting> makeSettings() {
  using C = ConsumerConfig;
  std::vector<Setting> t;
  t.push_back(kafkaPropertiesFileSetting<C>());
  t.push_back(kafkaPropertySetting<C>("LEAFSYNC_BOOTSTRAP_SERVERS", "bootstrap.servers"));
  t.push_back(kafkaPropertySetting<C>("LEAFSYNC_GROUP_ID", "group.id"));
  t.push_back(kafkaPropertySetting<C>("LEAFSYNC_GROUP_INSTANCE_ID", "group.instance.id", "static membership"));
  t.push_back(stringSetting<C>("kafka.dead_letter_topic", "LEAFSYNC_DLQ_TOPIC", &C::dead_letter_topic));

  Setting start = setting<C>("kafka.start_when_empty", "LEAFSYNC_START_WHEN_EMPTY", "enum",
                "where a partition without a committed offset starts");
  start.from_yaml = [](C& c, const ConfigNode& n) { setStartWhenEmpty(c, yamlValue<std::string>(n, "kafka.start_when_empty")); };
  start.from_env = setStartWhenEmpty;
  start.value = [](const C& c) { return nlohmann::json(c.start_from_latest_when_empty ? "latest" : "earliest"); };
  start.limits = {{"values", {"earliest", "latest"}}};
  t.push_back(start);
  t.push_back(intSetting<C>("kafka.first_assignment_wait_ms", "LEAFSYNC_FIRST_ASSIGNMENT_WAIT_MS",
                            &C::first_assignment_wait_ms, 0, kMaxFirstAssignmentWaitMs));

  Setting topics = setting<C>("topics", "LEAFSYNC_TOPICS", "list",
                 "the topics to consume; the variable: comma-separated plant topics, native format");
  topics.from_yaml = [](C& c, const ConfigNode& n) { c.topics = parseTopicItems(n); };
  topics.from_env = [](C& c, const std::string& v) { c.topics = parseTopicList(v); };
  topics.value = [](const C& c) {
    if (c.topics.empty()) return plantNames();  // none listed: every plant's topic (loadConsumerConfig)
    nlohmann::json names = nlohmann::json::array();
    for (const TopicConfig& topic : c.topics) names.push_back(topic.name);
    return names;
  };
  t.push_back(topics);
  // Read item by item by the topics row (parseTopicItems).
  Setting name = setting<C>("topics[].name", "", "string", "the Kafka topic, required");
  t.push_back(name);
  Setting plant = setting<C>("topics[].plant", "", "enum", "the plant its events belong to; default: the topic's name");
  plant.limits = {{"values", plantNames()}};
  t.push_back(plant);
  Setting format = setting<C>("topics[].format", "", "enum", "the events' format");
  format.value = [](const C&) { return nlohmann::json("native"); };
  format.limits = {{"values", {"native", "debezium"}}};
  t.push_back(format);

  t.push_back(stringSetting<C>("database.url", "LEAFSYNC_DATABASE_URL", &C::database_url));
  t.push_back(intSetting<C>("apply.batch_size", "LEAFSYNC_BATCH_SIZE", &C::batch_size, 1, 100000));
  t.push_back(intSetting<C>("apply.linger_ms", "LEAFSYNC_LINGER_MS", &C::linger_ms, 0, 60000));
  t.push_back(intSetting<C>("http.port", "LEAFSYNC_HTTP_PORT", &C::http_port, 0, 65535));
  t.push_back(intSetting<C>("http.threads", "LEAFSYNC_HTTP_THREADS", &C::http_threads, 1, 64));
  addReadLimitSettings(t);
  t.push_back(stringSetting<C>("producer_url", "LEAFSYNC_PRODUCER_URL", &C::producer_url));
  t.push_back(intSetting<C>("write_wait_ms", "LEAFSYNC_WRITE_WAIT_MS", &C::write_wait_ms, 0, 600000));
  t.push_back(intSetting<C>("ready_max_lag", "LEAFSYNC_READY_MAX_LAG", &C::ready_max_lag, 0, 100000000));
  t.push_back(intSetting<C>("stall_after_s", "LEAFSYNC_STALL_AFTER_S", &C::stall_after_s, 1, 86400));

  t.push_back(logLevelSetting<C>());
  t.push_back(intSetting<C>("memory.budget_mb", "LEAFSYNC_MEMORY_BUDGET_MB", &C::memory_budget_mb, 0, 1 << 20));
  return t;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = makeSettings();
  return table;
}

}  // namespace

const std::vector<EnvOverride>& consumerEnvOverrides() {
  static const std::vector<EnvOverride> docs = envOverridesOf(settings());
  return docs;
}

nlohmann::json describeConsumerSettings() { return describeSettings(settings()); }

ConsumerConfig loadConsumerConfig(const std::string& yaml_path, const Environment& env) {
  ConfigNode root = ConfigNode::load(yaml_path);
  ConsumerConfig c = readSettings(settings(), root, env);
  if (c.topics.empty()) {
    for (Plant plant : kAllPlants) c.topics.push_back({std::string(plantName(plant)), plant, EventFormat::Native});
  }
  if (!c.kafka.count("bootstrap.servers")) throw ConfigError("bootstrap.servers is not set (kafka properties or LEAFSYNC_BOOTSTRAP_SERVERS)");
  if (!c.kafka.count("group.id")) throw ConfigError("group.id is not set (kafka properties or LEAFSYNC_GROUP_ID)");
  return c;
}

}  // namespace leafsync
