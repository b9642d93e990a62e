#include "leafsync/ConsumerConfig.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>

#include "support/TempDir.h"

namespace leafsync {
namespace {

class ConsumerConfigTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name)) << text;
  }
  ConsumerConfig load() {
    return loadConsumerConfig(dir_.file("consumer.yaml"), [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    });
  }
  void SetUp() override {
    write("kafka.json", R"({"bootstrap.servers":"127.0.0.1:9092","group.id":"g","fetch.wait.max.ms":100})");
    write("consumer.yaml", "kafka:\n  properties: kafka.json\n");
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConsumerConfigTest, KafkaPropertiesArePassedThroughFromTheJsonFile) {
  ConsumerConfig c = load();
  EXPECT_EQ(c.kafka.at("bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(c.kafka.at("fetch.wait.max.ms"), "100");
}

TEST_F(ConsumerConfigTest, DefaultsToTheThreePlantTopics) {
  ConsumerConfig c = load();
  ASSERT_EQ(c.topics.size(), 3u);
  EXPECT_EQ(c.topics[0].name, "potato");
  EXPECT_EQ(c.topics[2].plant, Plant::Pepper);
  EXPECT_EQ(c.http_port, 8080);
}

TEST_F(ConsumerConfigTest, YamlSettingsAreRead) {
  write("consumer.yaml",
        "kafka: {properties: kafka.json, start_when_empty: latest}\n"
        "topics:\n  - {name: leaves.tomato, plant: tomato, format: debezium}\n"
        "database: {url: 'sqlite:/tmp/x.db'}\napply: {batch_size: 50, linger_ms: 5}\n"
        "http: {port: 9000, threads: 4}\nlog_level: debug\n");
  ConsumerConfig c = load();
  ASSERT_EQ(c.topics.size(), 1u);
  EXPECT_EQ(c.topics[0].name, "leaves.tomato");
  EXPECT_EQ(c.topics[0].format, EventFormat::Debezium);
  EXPECT_TRUE(c.start_from_latest_when_empty);
  EXPECT_EQ(c.database_url, "sqlite:/tmp/x.db");
  EXPECT_EQ(c.batch_size, 50);
  EXPECT_EQ(c.http_threads, 4);
  EXPECT_EQ(c.log_level, LogLevel::Debug);
}

TEST_F(ConsumerConfigTest, MemoryBudgetIsReadAndTheEnvironmentOverridesIt) {
  write("consumer.yaml", "kafka: {properties: kafka.json}\nmemory: {budget_mb: 224}\n");
  EXPECT_EQ(load().memory_budget_mb, 224);
  env_ = {{"LEAFSYNC_MEMORY_BUDGET_MB", "0"}};
  EXPECT_EQ(load().memory_budget_mb, 0);
  env_ = {{"LEAFSYNC_MEMORY_BUDGET_MB", "-1"}};
  EXPECT_THROW(load(), ConfigError);
}

TEST_F(ConsumerConfigTest, ReadLimitsAreReadAndTheEnvironmentOverridesThem) {
  EXPECT_EQ(load().read_limits.max_response_bytes, 8 << 20);  // the defaults
  EXPECT_EQ(load().read_limits.large_response_bytes, 1 << 20);
  EXPECT_EQ(load().read_limits.large_response_slots, 4);
  write("consumer.yaml",
        "kafka: {properties: kafka.json}\n"
        "http: {max_response_bytes: 4194304, large_response_bytes: 524288, large_response_slots: 2}\n");
  ReadLimits limits = load().read_limits;
  EXPECT_EQ(limits.max_response_bytes, 4 << 20);
  EXPECT_EQ(limits.large_response_bytes, 512 << 10);
  EXPECT_EQ(limits.large_response_slots, 2);
  env_ = {{"LEAFSYNC_MAX_RESPONSE_BYTES", "2097152"}, {"LEAFSYNC_LARGE_RESPONSE_BYTES", "65536"},
          {"LEAFSYNC_LARGE_RESPONSE_SLOTS", "8"}};
  limits = load().read_limits;
  EXPECT_EQ(limits.max_response_bytes, 2 << 20);
  EXPECT_EQ(limits.large_response_bytes, 64 << 10);
  EXPECT_EQ(limits.large_response_slots, 8);
}

TEST_F(ConsumerConfigTest, ReadLimitsOutOfRangeAreRefusedWithTheSettingNamed) {
  const std::map<std::string, std::string> cases = {
      {"LEAFSYNC_MAX_RESPONSE_BYTES", "1000"},         // below 64 KiB
      {"LEAFSYNC_LARGE_RESPONSE_BYTES", "1000"},       // below 4 KiB
      {"LEAFSYNC_LARGE_RESPONSE_SLOTS", "0"},
  };
  for (const auto& [name, value] : cases) {
    env_ = {{name, value}};
    try {
      load();
      ADD_FAILURE() << name << "=" << value << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST_F(ConsumerConfigTest, EnvironmentOverridesWin) {
  env_ = {{"LEAFSYNC_BOOTSTRAP_SERVERS", "kafka:9092"}, {"LEAFSYNC_GROUP_ID", "copy-2"},
          {"LEAFSYNC_DATABASE_URL", "sqlite:/data/copy.db"}, {"LEAFSYNC_HTTP_PORT", "18080"},
          {"LEAFSYNC_TOPICS", "tomato,pepper"}};
  ConsumerConfig c = load();
  EXPECT_EQ(c.kafka.at("bootstrap.servers"), "kafka:9092");
  EXPECT_EQ(c.kafka.at("group.id"), "copy-2");
  EXPECT_EQ(c.database_url, "sqlite:/data/copy.db");
  EXPECT_EQ(c.http_port, 18080);
  ASSERT_EQ(c.topics.size(), 2u);
  EXPECT_EQ(c.topics[1].plant, Plant::Pepper);
}

TEST_F(ConsumerConfigTest, BadValuesAreRefusedWithTheSettingNamed) {
  env_ = {{"LEAFSYNC_HTTP_PORT", "eighty"}};
  try {
    load();
    FAIL() << "accepted a non-numeric port";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("LEAFSYNC_HTTP_PORT"), std::string::npos);
  }
}

TEST_F(ConsumerConfigTest, MissingPropertiesFileIsAConfigError) {
  write("consumer.yaml", "kafka:\n  properties: nowhere.json\n");
  EXPECT_THROW(load(), ConfigError);
}

TEST_F(ConsumerConfigTest, UnknownPlantTopicIsAConfigError) {
  write("consumer.yaml", "kafka: {properties: kafka.json}\ntopics:\n  - {name: banana}\n");
  EXPECT_THROW(load(), ConfigError);
}

// The message of the ConfigError that loading the current files throws ("" when it loads).
std::string loadError(const std::function<void()>& load) {
  try {
    load();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(ConsumerConfigTest, UnknownKeysAreRefusedWithTheKeyNamed) {
  struct Case {
    const char* yaml;
    const char* key;
    const char* suggestion;  // the known key a typo is close to, or ""
  };
  const Case cases[] = {
      {"http:\n  port: 8080\n  colour: green\n", "'http.colour'", ""},
      {"apply:\n  batchsize: 10\n", "'apply.batchsize'", "'apply.batch_size'"},
      {"log_levle: debug\n", "'log_levle'", "'log_level'"},
      {"topics:\n  - {name: potato, plantt: potato}\n", "'topics[].plantt'", "'topics[].plant'"},
      {"kafka:\n  properties: kafka.json\n  dead_letter: x\n", "'kafka.dead_letter'", ""},
  };
  for (const Case& c : cases) {
    write("consumer.yaml", std::string("kafka: {properties: kafka.json}\n") + c.yaml);
    if (std::string(c.yaml).rfind("kafka:", 0) == 0) write("consumer.yaml", c.yaml);
    std::string error = loadError([this] { load(); });
    EXPECT_NE(error.find("unknown setting " + std::string(c.key)), std::string::npos) << c.yaml << " -> " << error;
    EXPECT_NE(error.find(dir_.file("consumer.yaml")), std::string::npos) << "names the file: " << error;
    if (*c.suggestion) {
      EXPECT_NE(error.find(c.suggestion), std::string::npos) << error;
    }
  }
}

TEST_F(ConsumerConfigTest, EveryKeyTheLoaderReadsIsAccepted) {
  write("consumer.yaml",
        "kafka: {properties: kafka.json, dead_letter_topic: d, start_when_empty: latest, first_assignment_wait_ms: 100}\n"
        "topics:\n  - {name: potato, plant: potato, format: native}\n"
        "database: {url: 'sqlite:x.sqlite'}\napply: {batch_size: 5, linger_ms: 1}\nhttp: {port: 1, threads: 1}\n"
        "producer_url: http://p\nready_max_lag: 1\nstall_after_s: 1\nwrite_wait_ms: 1\nlog_level: warn\n");
  ConsumerConfig c = load();
  EXPECT_EQ(c.first_assignment_wait_ms, 100);
  EXPECT_EQ(c.write_wait_ms, 1);
}

TEST_F(ConsumerConfigTest, FirstAssignmentWaitIsBounded) {
  env_ = {{"LEAFSYNC_FIRST_ASSIGNMENT_WAIT_MS", "600000"}};
  EXPECT_NE(loadError([this] { load(); }).find("LEAFSYNC_FIRST_ASSIGNMENT_WAIT_MS"), std::string::npos);
  env_ = {};
  write("consumer.yaml", "kafka: {properties: kafka.json, first_assignment_wait_ms: -1}\n");
  EXPECT_NE(loadError([this] { load(); }).find("kafka.first_assignment_wait_ms"), std::string::npos);
}

TEST_F(ConsumerConfigTest, EveryOverrideIsDocumented) {
  std::vector<std::string> names;
  for (const auto& e : consumerEnvOverrides()) names.push_back(e.name);
  for (const char* required : {"LEAFSYNC_BOOTSTRAP_SERVERS", "LEAFSYNC_DATABASE_URL",
                               "LEAFSYNC_HTTP_PORT", "LEAFSYNC_GROUP_ID"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  }
}

}  // namespace
}  // namespace leafsync
