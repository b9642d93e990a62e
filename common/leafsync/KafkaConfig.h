#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

namespace leafsync {

// A librdkafka configuration built from properties; throws ConfigError naming the property
// librdkafka refused.
std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& properties);

// Consumer-only properties dropped from a producer's copy of the shared Kafka settings, so
// one JSON file serves both without librdkafka warnings.
std::map<std::string, std::string> producerProperties(
    const std::map<std::string, std::string>& properties);

// Routes librdkafka's own log lines and errors into our structured log.
class KafkaLogger : public RdKafka::EventCb {
 public:
  explicit KafkaLogger(std::string client) : client_(std::move(client)) {}
  void event_cb(RdKafka::Event& event) override;

 private:
  std::string client_;
};

}  // namespace leafsync
