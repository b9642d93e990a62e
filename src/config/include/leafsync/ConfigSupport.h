#pragma once

// Helpers for the services' YAML + environment configuration (ConsumerConfig, ProducerConfig).

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <map>
#include <string>

#include "leafsync/ConfigError.h"
#include "leafsync/ConfigNode.h"

namespace leafsync {

// The librdkafka properties of a JSON file (`kafka.properties`): one object of strings,
// numbers and booleans. Throws ConfigError.
std::map<std::string, std::string> loadKafkaProperties(const std::string& json_path);
// The file's properties with `overrides` (set from LEAFSYNC_* variables) replacing theirs.
std::map<std::string, std::string> withKafkaProperties(std::map<std::string, std::string> file,
                                                       const std::map<std::string, std::string>& overrides);
// `path` as a file next to `file` when relative (a path inside a config file).
std::string resolveNextTo(const std::string& file, const std::string& path);

inline int parseIntSetting(const std::string& text, const std::string& what, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw ConfigError(what + " must be an integer in [" + std::to_string(min) + ", " +
                      std::to_string(max) + "], got '" + text + "'");
  }
  return value;
}

template <typename T>
T yamlValue(const YAML::Node& node, const std::string& what) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError(what + " has the wrong type");
  }
}

template <typename T>
T yamlValue(const ConfigNode& node, const std::string& what) {
  return yamlValue<T>(node.yaml(), what);
}

}  // namespace leafsync
