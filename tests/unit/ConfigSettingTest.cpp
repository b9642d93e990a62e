// The settings tables as --describe lists them (describeConsumerSettings, describeProducerSettings)
// against the loaders that read the files: every key listed is one the loader accepts, every
// integer key and variable listed is read with the bounds listed, the defaults listed are the
// loaded ones. A row that the loader ignored, or a listed bound it did not apply, fails here.

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "leafsync/ConsumerConfig.h"
#include "leafsync/ProducerConfig.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using Env = std::map<std::string, std::string>;

struct Service {
  const char* name;
  std::function<nlohmann::json()> describe;
  std::function<void(const std::string&, const Environment&)> load;
};

const Service kServices[] = {
    {"consumer", describeConsumerSettings,
     [](const std::string& path, const Environment& env) { loadConsumerConfig(path, env); }},
    {"producer", describeProducerSettings,
     [](const std::string& path, const Environment& env) { loadProducerConfig(path, env); }},
};

class ConfigSettingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.file("kafka.json")) << R"({"bootstrap.servers":"127.0.0.1:1","group.id":"g"})";
  }
  // The message of the ConfigError loading `yaml` (after kafka.properties) with `env` throws; "" when it loads.
  std::string loadError(const Service& service, const std::string& yaml, const Env& env = {}) {
    // A key of the kafka section goes into the one section that names the properties.
    const std::string kafka = "kafka:\n";
    std::string document = yaml.rfind(kafka, 0) == 0 ? kafka + "  properties: kafka.json\n" + yaml.substr(kafka.size())
                                                     : "kafka: {properties: kafka.json}\n" + yaml;
    std::ofstream(dir_.file("service.yaml")) << document;
    try {
      service.load(dir_.file("service.yaml"), [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  testing::TempDir dir_;
};

// "a.b: v" as nested YAML; a list item's key "topics[].plant" as a one-item list.
std::string yamlFor(const std::string& key, const std::string& value) {
  if (auto item = key.find("[]."); item != std::string::npos) {
    std::string field = key.substr(item + 3);
    std::string list = key.substr(0, item);
    return list + ":\n  - {name: potato" + (field == "name" ? "" : ", " + field + ": " + value) + "}\n";
  }
  std::string yaml;
  std::size_t start = 0, depth = 0;
  for (std::size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1, ++depth) {
    yaml += std::string(2 * depth, ' ') + key.substr(start, dot - start) + ":\n";
  }
  return yaml + std::string(2 * depth, ' ') + key.substr(start) + ": " + value + "\n";
}

// A value the setting takes: its first allowed value, its minimum, a plant topic list, or text.
std::string sampleValue(const nlohmann::json& row) {
  if (row.contains("values")) return row["values"][0].get<std::string>();
  if (row.contains("min")) return std::to_string(row["min"].get<long long>());
  if (row["type"] == "list") return "[{name: potato}]";
  if (row["type"] == "path") return "kafka.json";
  return "'sqlite:" + std::string("x.sqlite") + "'";
}

TEST_F(ConfigSettingTest, EveryDescribedKeyIsOneTheLoaderAccepts) {
  for (const Service& service : kServices) {
    const nlohmann::json keys = service.describe()["keys"];
    ASSERT_GT(keys.size(), 5u) << service.name;
    for (const nlohmann::json& row : keys) {
      std::string key = row["key"];
      if (key == "kafka.properties") continue;  // in every document already
      std::string yaml = yamlFor(key, sampleValue(row));
      std::string error = loadError(service, yaml);
      EXPECT_EQ(error.find("unknown setting"), std::string::npos) << service.name << " " << key << ":\n" << yaml << error;
    }
  }
}

TEST_F(ConfigSettingTest, EveryDescribedIntegerIsReadWithItsBounds) {
  int checked = 0;
  for (const Service& service : kServices) {
    const nlohmann::json keys = service.describe()["keys"];  // a range-for over a temporary's part dangles
    for (const nlohmann::json& row : keys) {
      if (row["type"] != "integer") continue;
      std::string key = row["key"];
      long long max = row["max"], min = row["min"];
      EXPECT_EQ(loadError(service, yamlFor(key, std::to_string(max))), "") << service.name << " " << key;
      std::string above = loadError(service, yamlFor(key, std::to_string(max + 1)));
      EXPECT_NE(above.find(key), std::string::npos) << service.name << " " << key << " = max + 1: '" << above << "'";
      std::string below = loadError(service, yamlFor(key, std::to_string(min - 1)));
      EXPECT_NE(below.find(key), std::string::npos) << service.name << " " << key << " = min - 1: '" << below << "'";
      if (!row["env"].is_null()) {
        std::string var = row["env"];
        EXPECT_EQ(loadError(service, "", {{var, std::to_string(min)}}), "") << var;
        std::string error = loadError(service, "", {{var, std::to_string(max + 1)}});
        EXPECT_NE(error.find(var), std::string::npos) << var << " = max + 1: '" << error << "'";
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 14);
}

TEST_F(ConfigSettingTest, EveryDescribedVariableWithAKeyIsListedWithThatKey) {
  for (const Service& service : kServices) {
    nlohmann::json settings = service.describe();
    std::map<std::string, std::string> key_of_env;
    for (const nlohmann::json& row : settings["keys"]) {
      if (!row["env"].is_null()) key_of_env[row["env"]] = row["key"];
    }
    for (const nlohmann::json& var : settings["env"]) {
      std::string name = var["name"];
      EXPECT_EQ(name.rfind("LEAFSYNC_", 0), 0u) << name;
      if (var["key"].is_null()) {
        EXPECT_FALSE(key_of_env.count(name)) << name;
      } else {
        EXPECT_EQ(key_of_env[name], var["key"].get<std::string>()) << name;
      }
    }
  }
}

TEST_F(ConfigSettingTest, DescribedDefaultsAreTheLoadedOnes) {
  std::ofstream(dir_.file("consumer.yaml")) << "kafka: {properties: kafka.json}\n";
  ConsumerConfig c = loadConsumerConfig(dir_.file("consumer.yaml"), [](const std::string&) { return std::nullopt; });
  std::map<std::string, nlohmann::json> defaults;
  const nlohmann::json keys = describeConsumerSettings()["keys"];
  for (const nlohmann::json& row : keys) defaults[row["key"]] = row["default"];
  EXPECT_EQ(defaults["http.port"], c.http_port);
  EXPECT_EQ(defaults["apply.batch_size"], c.batch_size);
  EXPECT_EQ(defaults["kafka.first_assignment_wait_ms"], c.first_assignment_wait_ms);
  EXPECT_EQ(defaults["database.url"], c.database_url);
  EXPECT_EQ(defaults["log_level"], "info");
  ASSERT_EQ(defaults["topics"].size(), c.topics.size());
  EXPECT_EQ(defaults["topics"][0], c.topics[0].name);
}

}  // namespace
}  // namespace leafsync
