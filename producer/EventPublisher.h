#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "leafsync/KafkaConfig.h"

namespace leafsync {

// What the broker made of one message sent: delivered (acknowledged) or not (refused, or
// expired after librdkafka's retries). Every message sent gets exactly one.
struct Delivery {
  std::int64_t token = 0;  // what send() was given: the outbox seq
  bool delivered = false;
};

// Where the outbox relay sends events. send() queues and returns at once; the broker's answer
// for each message comes later from collect(), so the relay can go on sending while earlier
// messages are on their way. Used from one thread (the relay's), except the wake-up below.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // One message; one Delivery for it follows.
  virtual void send(const std::string& topic, const std::string& key, const std::string& value,
                    std::int64_t token) = 0;
  // The same message to every partition of the topic (snapshot end markers). Returns how many
  // Deliveries follow for it: one per partition, or one failed when the partitions are unknown.
  virtual std::size_t sendToAllPartitions(const std::string& topic, const std::string& key,
                                          const std::string& value, std::int64_t token) = 0;
  // Appends the Deliveries the broker answered since the last call; never waits. Also serves
  // the client's other callbacks (its statistics: the wire-byte counters).
  virtual void collect(std::vector<Delivery>& out) = 0;
  // `wake` is called from librdkafka's threads when collect() has something new; it must only
  // signal (never call the publisher). Clear it (nullptr) before what it signals goes away.
  virtual void onDeliveries(std::function<void()> wake) { (void)wake; }
};

// Idempotent producer (enable.idempotence=true, acks=all): retries never reorder or
// duplicate within a partition, with up to 5 requests in flight per connection (librdkafka
// caps max.in.flight at 5 under idempotence); a restart may re-send what was not yet deleted.
class KafkaEventPublisher : public EventPublisher, private RdKafka::DeliveryReportCb {
 public:
  explicit KafkaEventPublisher(const std::map<std::string, std::string>& kafka_properties);
  ~KafkaEventPublisher() override;

  void send(const std::string& topic, const std::string& key, const std::string& value,
            std::int64_t token) override;
  std::size_t sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value,
                                  std::int64_t token) override;
  void collect(std::vector<Delivery>& out) override;
  void onDeliveries(std::function<void()> wake) override;

 private:
  void produce(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value,
               std::int64_t token);
  void dr_cb(RdKafka::Message& message) override;
  static void queueEvent(struct rd_kafka_s* rk, void* self);  // rd_kafka_t: its queue got a callback

  KafkaLogger logger_{"outbox-relay"};
  std::unique_ptr<RdKafka::Producer> producer_;
  std::vector<Delivery> reports_;  // filled by dr_cb, on the thread that polls
  std::mutex wake_mutex_;          // librdkafka's thread reads wake_
  std::function<void()> wake_;
};

}  // namespace leafsync
