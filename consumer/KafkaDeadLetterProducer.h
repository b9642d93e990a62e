#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "BatchApplier.h"
#include "leafsync/KafkaConfig.h"

namespace leafsync {

// Publishes undecodable messages to the dead-letter topic: original key and value, and in
// headers the reason and where the message came from. Idempotent, acks=all.
// Headers: leafsync.reason, leafsync.source.topic, leafsync.source.partition,
// leafsync.source.offset, leafsync.source.timestamp_ms.
class KafkaDeadLetterProducer : public DeadLetterSink, private RdKafka::DeliveryReportCb {
 public:
  KafkaDeadLetterProducer(const std::map<std::string, std::string>& kafka_properties,
                          std::string topic, const std::string& client_suffix);
  ~KafkaDeadLetterProducer() override;

  void send(const InboundMessage& message, const std::string& reason) override;
  void flush() override;

 private:
  void dr_cb(RdKafka::Message& message) override;

  std::string topic_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<std::int64_t> failed_{0};
};

}  // namespace leafsync
