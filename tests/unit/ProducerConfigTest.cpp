#include "leafsync/ProducerConfig.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "support/TempDir.h"

namespace leafsync {
namespace {

class ProducerConfigTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_.file(name)) << text; }
  std::string loadError() {
    try {
      loadProducerConfig(dir_.file("producer.yaml"), [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
  void SetUp() override { write("kafka.json", R"({"bootstrap.servers":"127.0.0.1:9092"})"); }

  testing::TempDir dir_;
};

TEST_F(ProducerConfigTest, UnknownKeysAreRefusedWithTheKeyNamed) {
  const std::map<std::string, std::string> cases = {
      {"http:\n  colour: green\n", "unknown setting 'http.colour'"},
      {"relay:\n  pollms: 5\n", "unknown setting 'relay.pollms' (did you mean 'relay.poll_ms'?)"},
      {"log_levle: info\n", "unknown setting 'log_levle' (did you mean 'log_level'?)"},
      {"topics: {banana: b}\n", "unknown setting 'topics.banana'"},
      // A consumer's key in the producer's file: not read there, so not silently accepted.
      {"apply: {batch_size: 10}\n", "unknown setting 'apply'"},
  };
  for (const auto& [yaml, message] : cases) {
    write("producer.yaml", "kafka: {properties: kafka.json}\n" + yaml);
    std::string error = loadError();
    EXPECT_NE(error.find(message), std::string::npos) << yaml << " -> " << error;
  }
}

TEST_F(ProducerConfigTest, EveryKeyTheLoaderReadsIsAccepted) {
  write("producer.yaml",
        "kafka: {properties: kafka.json}\ntopics: {potato: p, tomato: t, pepper: q}\n"
        "database: {url: 'sqlite:x.sqlite'}\nhttp: {port: 1, threads: 1, max_body_bytes: 2048}\n"
        "relay: {batch_size: 1, poll_ms: 1}\nlog_level: warn\n");
  EXPECT_EQ(loadError(), "");
}

}  // namespace
}  // namespace leafsync
