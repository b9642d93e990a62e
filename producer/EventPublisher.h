#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "leafsync/KafkaConfig.h"

namespace leafsync {

// Where the outbox relay sends events. send() may buffer; flush() returns true once every
// event sent since the last flush is acknowledged by the broker.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  virtual void send(const std::string& topic, const std::string& key, const std::string& value) = 0;
  // The same message to every partition of the topic (snapshot end markers).
  virtual void sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value) = 0;
  virtual bool flush() = 0;
};

// Idempotent producer (enable.idempotence=true, acks=all): retries never reorder or
// duplicate within a partition; a restart may re-send what was not yet marked published.
class KafkaEventPublisher : public EventPublisher, private RdKafka::DeliveryReportCb {
 public:
  explicit KafkaEventPublisher(const std::map<std::string, std::string>& kafka_properties);
  ~KafkaEventPublisher() override;

  void send(const std::string& topic, const std::string& key, const std::string& value) override;
  void sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value) override;
  bool flush() override;

 private:
  void produce(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value);
  void dr_cb(RdKafka::Message& message) override;

  KafkaLogger logger_{"outbox-relay"};
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<std::int64_t> failed_{0};
  std::int64_t failed_at_last_flush_ = 0;
};

}  // namespace leafsync
