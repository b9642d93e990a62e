#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "leafsync/KafkaConfig.h"

namespace leafsync {

// What became of the events sent since the last completed flush.
enum class FlushResult {
  Acknowledged,  // the broker has every one
  Failed,        // one or more were refused or expired: send them again
  Pending,       // some are still on their way (being retried): flush again, do not re-send
};

// Where the outbox relay sends events. send() may buffer; flush() waits up to `timeout` for
// the broker's answer on everything sent since the last Acknowledged or Failed flush.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  virtual void send(const std::string& topic, const std::string& key, const std::string& value) = 0;
  // The same message to every partition of the topic (snapshot end markers).
  virtual void sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value) = 0;
  virtual FlushResult flush(std::chrono::milliseconds timeout) = 0;
  // Serves the client's callbacks while nothing is sent (its statistics: the wire-byte counters).
  virtual void serveEvents() {}
};

// Idempotent producer (enable.idempotence=true, acks=all): retries never reorder or
// duplicate within a partition; a restart may re-send what was not yet marked published.
class KafkaEventPublisher : public EventPublisher, private RdKafka::DeliveryReportCb {
 public:
  explicit KafkaEventPublisher(const std::map<std::string, std::string>& kafka_properties);
  ~KafkaEventPublisher() override;

  void send(const std::string& topic, const std::string& key, const std::string& value) override;
  void sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value) override;
  FlushResult flush(std::chrono::milliseconds timeout) override;
  void serveEvents() override;

 private:
  void produce(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value);
  void dr_cb(RdKafka::Message& message) override;

  KafkaLogger logger_{"outbox-relay"};
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<std::int64_t> failed_{0};
  std::int64_t failed_at_last_flush_ = 0;
};

}  // namespace leafsync
