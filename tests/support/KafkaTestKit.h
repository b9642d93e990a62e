#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leafsync::testing {

// The broker under test: LEAFSYNC_TEST_BOOTSTRAP, else 127.0.0.1:9092.
std::string testBootstrap();

// Points the test kit (topic creation, kafka.json of a setup) at a test's own broker.
class ScopedBootstrap {
 public:
  explicit ScopedBootstrap(const std::string& address);
  ~ScopedBootstrap();
  ScopedBootstrap(const ScopedBootstrap&) = delete;
  ScopedBootstrap& operator=(const ScopedBootstrap&) = delete;

 private:
  std::string old_;
};

// Creates topics on the real broker (librdkafka admin API), with topic configs such as
// max.message.bytes; throws if the broker refuses.
void createTopics(const std::vector<std::string>& topics, int partitions,
                  const std::map<std::string, std::string>& configs = {});

// Asks the broker for high watermarks, on one client kept for many questions.
class WatermarkReader {
 public:
  WatermarkReader();
  ~WatermarkReader();
  // The sum of the topics' high watermarks now; -1 if the broker did not answer in time.
  std::int64_t sum(const std::vector<std::string>& topics, int partitions,
                   std::chrono::milliseconds timeout = std::chrono::seconds(1));

 private:
  std::unique_ptr<RdKafka::Producer> client_;
};

struct ReadMessage {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  bool has_value = true;
  std::map<std::string, std::string> headers;
};

// Reads a topic from the beginning until `expected` messages arrived or the deadline passed.
std::vector<ReadMessage> readTopic(const std::string& topic, std::size_t expected,
                                   std::chrono::milliseconds deadline);

// A synchronous test producer: every send is delivered (acks=all) before flush() returns.
class TestProducer {
 public:
  TestProducer();
  ~TestProducer();
  void send(const std::string& topic, const std::string& key, const std::string& value);
  void sendTombstone(const std::string& topic, const std::string& key);
  void flush();  // throws if anything was not delivered

 private:
  void produce(const std::string& topic, const std::string& key, const std::string* value);
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace leafsync::testing
