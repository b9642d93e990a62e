#pragma once

// The settings table of a service's configuration (ConsumerConfig, ProducerConfig): one row per
// YAML key and LEAFSYNC_* variable, with its type, how it is read, and where it lives in the
// config (so that the row's value in a default-constructed config is its default). The loaders
// read the file and the environment through the table, and --print-env and --describe list the
// same rows: the keys, variables and defaults they print are what the loaders do.

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "leafsync/ConfigNode.h"
#include "leafsync/ConfigSupport.h"
#include "leafsync/Environment.h"
#include "leafsync/Log.h"
#include "leafsync/ReadLimits.h"

namespace leafsync {

template <typename Config>
struct ConfigSetting {
  std::string key;             // dotted YAML key ("http.port", "topics[].name"); empty: environment only
  std::string env;             // the LEAFSYNC_* variable that overrides it; empty: none
  std::string type;            // "integer", "string", "enum", "list", "path"
  std::string note;            // what it is, beside the key (--print-env, --describe)
  std::string kafka_property;  // the librdkafka property the variable sets, for environment-only rows
  // Reads the YAML value (present); null when another row reads it (the items of a list).
  std::function<void(Config&, const ConfigNode&)> from_yaml;
  std::function<void(Config&, const std::string&)> from_env;
  // The setting as JSON; of Config{}: the default. Null: none (required, or per list item).
  std::function<nlohmann::json(const Config&)> value;
  nlohmann::json limits = nlohmann::json::object();  // {"min", "max"} or {"values": [...]}
};

// The node of a dotted key, looked up section by section so that ConfigNode records each level
// (never assigned: assigning a YAML::Node rebinds the document's node).
inline ConfigNode settingNode(const ConfigNode& node, const std::string& key, std::size_t from = 0) {
  std::size_t dot = key.find('.', from);
  if (dot == std::string::npos) return node[key.substr(from)];
  return settingNode(node[key.substr(from, dot - from)], key, dot + 1);
}

// A row whose readers and value the caller sets.
template <typename Config>
ConfigSetting<Config> setting(std::string key, std::string env, std::string type, std::string note) {
  ConfigSetting<Config> s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.type = std::move(type);
  s.note = std::move(note);
  return s;
}

// An integer in [min, max], the same bounds from the file and from the environment; `field(c)`
// is the config's int it sets (for a plain member or one of a part, below).
template <typename Config, typename Field>
ConfigSetting<Config> boundedIntSetting(std::string key, std::string env, Field field, int min, int max) {
  ConfigSetting<Config> s;
  s.key = key;
  s.env = env;
  s.type = "integer";
  s.from_yaml = [field, key, min, max](Config& c, const ConfigNode& node) {
    int value = yamlValue<int>(node, key);
    if (value < min || value > max) {
      throw ConfigError(key + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                        "], got " + std::to_string(value));
    }
    field(c) = value;
  };
  if (!env.empty()) {
    s.from_env = [field, env, min, max](Config& c, const std::string& v) { field(c) = parseIntSetting(v, env, min, max); };
  }
  s.value = [field](const Config& c) { return nlohmann::json(field(c)); };
  s.limits = {{"min", min}, {"max", max}};
  return s;
}

template <typename Config>
ConfigSetting<Config> intSetting(std::string key, std::string env, int Config::*member, int min, int max) {
  return boundedIntSetting<Config>(std::move(key), std::move(env), [member](auto& c) -> auto& { return c.*member; },
                                   min, max);
}

// An integer of a part of the config, e.g. c.read_limits.large_response_slots.
template <typename Config, typename Part>
ConfigSetting<Config> intSetting(std::string key, std::string env, Part Config::*part, int Part::*member, int min,
                                 int max) {
  return boundedIntSetting<Config>(std::move(key), std::move(env),
                                   [part, member](auto& c) -> auto& { return (c.*part).*member; }, min, max);
}

template <typename Config>
ConfigSetting<Config> stringSetting(std::string key, std::string env, std::string Config::*field, std::string type = "string") {
  ConfigSetting<Config> s;
  s.key = key;
  s.env = env;
  s.type = std::move(type);
  s.from_yaml = [field, key](Config& c, const ConfigNode& node) { c.*field = yamlValue<std::string>(node, key); };
  if (!env.empty()) s.from_env = [field](Config& c, const std::string& v) { c.*field = v; };
  s.value = [field](const Config& c) { return nlohmann::json(c.*field); };
  return s;
}

// A variable that sets one librdkafka property (the file's value, if any, loses).
template <typename Config>
ConfigSetting<Config> kafkaPropertySetting(std::string env, std::string property, std::string note = "") {
  ConfigSetting<Config> s;
  s.env = env;
  s.type = "string";
  s.note = std::move(note);
  s.kafka_property = property;
  s.from_env = [property](Config& c, const std::string& v) { c.kafka[property] = v; };
  return s;
}

// The rows both services' tables share.

// kafka.properties: the librdkafka JSON file, read relative to the YAML's folder.
template <typename Config>
ConfigSetting<Config> kafkaPropertiesFileSetting() {
  ConfigSetting<Config> s =
      stringSetting<Config>("kafka.properties", "LEAFSYNC_KAFKA_PROPERTIES", &Config::kafka_properties_file, "path");
  s.note = "JSON file of librdkafka settings, required; from the file relative to the YAML's folder";
  s.from_yaml = [](Config& c, const ConfigNode& node) {
    c.kafka_properties_file = resolveNextTo(node.file(), yamlValue<std::string>(node, "kafka.properties"));
  };
  s.value = nullptr;
  return s;
}

template <typename Config>
ConfigSetting<Config> logLevelSetting() {
  auto set = [](Config& c, const std::string& value) {
    auto level = parseLogLevel(value);
    if (!level) throw ConfigError("log_level must be debug, info, warn or error, got '" + value + "'");
    c.log_level = *level;
  };
  ConfigSetting<Config> s = setting<Config>("log_level", "LEAFSYNC_LOG_LEVEL", "enum", "");
  s.from_yaml = [set](Config& c, const ConfigNode& n) { set(c, yamlValue<std::string>(n, "log_level")); };
  s.from_env = set;
  s.value = [](const Config& c) { return nlohmann::json(logLevelName(c.log_level)); };
  s.limits = {{"values", {"debug", "info", "warn", "error"}}};
  return s;
}

// http.max_response_bytes, http.large_response_bytes, http.large_response_slots (ReadLimits).
template <typename Config>
void addReadLimitSettings(std::vector<ConfigSetting<Config>>& table) {
  table.push_back(intSetting<Config>("http.max_response_bytes", "LEAFSYNC_MAX_RESPONSE_BYTES", &Config::read_limits,
                                     &ReadLimits::max_response_bytes, 64 << 10, 1 << 30));
  table.push_back(intSetting<Config>("http.large_response_bytes", "LEAFSYNC_LARGE_RESPONSE_BYTES",
                                     &Config::read_limits, &ReadLimits::large_response_bytes, 4 << 10, 1 << 30));
  table.push_back(intSetting<Config>("http.large_response_slots", "LEAFSYNC_LARGE_RESPONSE_SLOTS",
                                     &Config::read_limits, &ReadLimits::large_response_slots, 1, 256));
}

template <typename Config>
void readYamlSettings(const std::vector<ConfigSetting<Config>>& table, const ConfigNode& root, Config& c) {
  for (const ConfigSetting<Config>& s : table) {
    if (s.key.empty() || !s.from_yaml) continue;
    if (ConfigNode node = settingNode(root, s.key)) s.from_yaml(c, node);
  }
}

template <typename Config>
void readEnvironmentSettings(const std::vector<ConfigSetting<Config>>& table, const Environment& env, Config& c) {
  for (const ConfigSetting<Config>& s : table) {
    if (s.env.empty() || !s.from_env) continue;
    if (auto value = env(s.env)) s.from_env(c, *value);
  }
}

// A service's config as both loaders read it: `root`'s keys by `table` (a key the table does
// not read is refused), the environment's overrides on top, then the librdkafka properties of
// the kafka.properties file with the LEAFSYNC_* overrides replacing theirs.
template <typename Config>
Config readSettings(const std::vector<ConfigSetting<Config>>& table, const ConfigNode& root, const Environment& env) {
  Config c;
  readYamlSettings(table, root, c);
  root.rejectUnknownKeys();
  readEnvironmentSettings(table, env, c);
  if (c.kafka_properties_file.empty()) throw ConfigError(root.file() + ": kafka.properties is required");
  c.kafka = withKafkaProperties(loadKafkaProperties(c.kafka_properties_file), c.kafka);
  return c;
}

// What --print-env says beside a variable: the key it overrides and the note.
template <typename Config>
std::string settingSummary(const ConfigSetting<Config>& s) {
  std::string what = !s.key.empty() ? s.key : !s.kafka_property.empty() ? "kafka: " + s.kafka_property : "";
  if (s.note.empty()) return what;
  return what.empty() ? s.note : what + " (" + s.note + ")";
}

template <typename Config>
std::vector<EnvOverride> envOverridesOf(const std::vector<ConfigSetting<Config>>& table) {
  std::vector<EnvOverride> list;
  for (const ConfigSetting<Config>& s : table) {
    if (!s.env.empty()) list.push_back({s.env, settingSummary(s)});
  }
  return list;
}

// {"keys": [...], "env": [...]}: the table as --describe prints it (docs/cli.md).
template <typename Config>
nlohmann::json describeSettings(const std::vector<ConfigSetting<Config>>& table) {
  const Config defaults{};
  nlohmann::json keys = nlohmann::json::array();
  nlohmann::json env = nlohmann::json::array();
  for (const ConfigSetting<Config>& s : table) {
    nlohmann::json row = {{"type", s.type}, {"default", s.value ? s.value(defaults) : nlohmann::json(nullptr)}};
    row.update(s.limits);
    if (!s.note.empty()) row["note"] = s.note;
    if (!s.key.empty()) {
      nlohmann::json k = {{"key", s.key}, {"env", s.env.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.env)}};
      k.update(row);
      keys.push_back(k);
    }
    if (!s.env.empty()) {
      nlohmann::json e = {{"name", s.env}, {"key", s.key.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.key)}};
      if (!s.kafka_property.empty()) e["kafka_property"] = s.kafka_property;
      e.update(row);
      env.push_back(e);
    }
  }
  return {{"keys", keys}, {"env", env}};
}

}  // namespace leafsync
