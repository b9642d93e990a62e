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
        "database: {url: 'sqlite:x.sqlite'}\nhttp: {port: 1, threads: 1, max_body_bytes: 2048, max_response_bytes: 65536, "
        "large_response_bytes: 4096, large_response_slots: 1}\n"
        "relay: {batch_size: 1, poll_ms: 1}\nlog_level: warn\n");
  EXPECT_EQ(loadError(), "");
}

TEST_F(ProducerConfigTest, ReadLimitsAreReadAndTheEnvironmentOverridesThem) {
  write("producer.yaml", "kafka: {properties: kafka.json}\nhttp: {max_response_bytes: 4194304, large_response_slots: 2}\n");
  std::map<std::string, std::string> env;
  auto load = [&] {
    return loadProducerConfig(dir_.file("producer.yaml"), [&env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
  };
  EXPECT_EQ(load().read_limits.max_response_bytes, 4 << 20);
  EXPECT_EQ(load().read_limits.large_response_bytes, 1 << 20);  // the default
  EXPECT_EQ(load().read_limits.large_response_slots, 2);
  env = {{"LEAFSYNC_MAX_RESPONSE_BYTES", "2097152"}, {"LEAFSYNC_LARGE_RESPONSE_SLOTS", "6"}};
  EXPECT_EQ(load().read_limits.max_response_bytes, 2 << 20);
  EXPECT_EQ(load().read_limits.large_response_slots, 6);
  env = {{"LEAFSYNC_LARGE_RESPONSE_SLOTS", "257"}};  // past its bound
  EXPECT_THROW(load(), ConfigError);
}

}  // namespace
}  // namespace leafsync
