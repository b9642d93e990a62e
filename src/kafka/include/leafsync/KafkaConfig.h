#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace leafsync {

// A librdkafka configuration built from properties; throws ConfigError naming the property
// librdkafka refused.
std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& properties);

// Consumer-only properties dropped from a producer's copy of the shared Kafka settings, so
// one JSON file serves both without librdkafka warnings; compression.type defaults to zstd
// (the relay and the dead-letter producer), a property of the file overrides it.
std::map<std::string, std::string> producerProperties(
    const std::map<std::string, std::string>& properties);

// Routes librdkafka's own log lines and errors into our structured log. A fatal error (the
// client cannot go on: a fenced static member, an idempotence violation) is also handed to
// `on_fatal`, so the process ends instead of living on with a dead client.
class KafkaLogger : public RdKafka::EventCb {
 public:
  using FatalHandler = std::function<void(const std::string& reason)>;
  explicit KafkaLogger(std::string client, FatalHandler on_fatal = {})
      : client_(std::move(client)), on_fatal_(std::move(on_fatal)) {}
  void event_cb(RdKafka::Event& event) override;

 private:
  std::string client_;
  FatalHandler on_fatal_;
};

}  // namespace leafsync
