// The config files the repository ships — config/*.yaml and the services' YAML in the k8s
// ConfigMaps — load with the loaders as they are (unknown keys are refused at start, so a key
// one of them carries and no loader reads would stop the pods).

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "leafsync/ConsumerConfig.h"
#include "leafsync/ProducerConfig.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> noEnvironment(const std::string&) { return std::nullopt; }

TEST(ShippedConfigTest, TheConfigDirectoryLoads) {
  const fs::path config = fs::path(LEAFSYNC_PROJECT_DIR) / "config";
  EXPECT_NO_THROW(loadConsumerConfig((config / "consumer.yaml").string(), noEnvironment));
  EXPECT_NO_THROW(loadProducerConfig((config / "producer.yaml").string(), noEnvironment));
}

TEST(ShippedConfigTest, TheConfigMapsOfEveryEnvironmentLoad) {
  int loaded = 0;
  for (const char* env : {"stg", "prod"}) {
    for (const auto& entry : fs::directory_iterator(fs::path(LEAFSYNC_PROJECT_DIR) / "k8s" / env)) {
      if (entry.path().extension() != ".yaml") continue;
      for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
        if (!doc.IsMap() || !doc["kind"] || doc["kind"].as<std::string>() != "ConfigMap" || !doc["data"]) continue;
        // The ConfigMap's files side by side, as mounted: the YAML names its Kafka file relative to itself.
        testing::TempDir dir;
        for (const auto& file : doc["data"]) std::ofstream(dir.file(file.first.as<std::string>())) << file.second.as<std::string>();
        std::string where = entry.path().string() + " " + doc["metadata"]["name"].as<std::string>();
        if (doc["data"]["consumer.yaml"]) {
          EXPECT_NO_THROW(loadConsumerConfig(dir.file("consumer.yaml"), noEnvironment)) << where;
          ++loaded;
        }
        if (doc["data"]["producer.yaml"]) {
          EXPECT_NO_THROW(loadProducerConfig(dir.file("producer.yaml"), noEnvironment)) << where;
          ++loaded;
        }
      }
    }
  }
  EXPECT_EQ(loaded, 4) << "a consumer.yaml and a producer.yaml in the ConfigMaps of stg and prod";
}

}  // namespace
}  // namespace leafsync
