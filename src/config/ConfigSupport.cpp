#include "leafsync/ConfigSupport.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace leafsync {

namespace fs = std::filesystem;

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

std::map<std::string, std::string> withKafkaProperties(std::map<std::string, std::string> file,
                                                       const std::map<std::string, std::string>& overrides) {
  for (const auto& [key, value] : overrides) file[key] = value;
  return file;
}

std::string resolveNextTo(const std::string& file, const std::string& path) {
  fs::path p(path);
  return p.is_relative() ? (fs::path(file).parent_path() / p).string() : path;
}

}  // namespace leafsync
