#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "BatchApplier.h"
#include "leafsync/KafkaConfig.h"

namespace leafsync {

// Publishes the messages that cannot be applied to the dead-letter topic (idempotent,
// acks=all), shaped by shapeDeadLetter() to fit what the topic accepts: its
// max.message.bytes, read from the broker at start, and the producer's message.max.bytes.
// Each letter is tracked by its own delivery report, so one applier's failure is never
// taken for another's success. One per process, shared by every partition applier; the
// consumer also asks its broker queries on this client's connections (latestOffsets()).
class KafkaDeadLetterProducer : public DeadLetterSink, private RdKafka::DeliveryReportCb {
 public:
  KafkaDeadLetterProducer(const std::map<std::string, std::string>& kafka_properties,
                          std::string topic, KafkaLogger::FatalHandler on_fatal = {});
  ~KafkaDeadLetterProducer() override;

  std::string deliver(const std::vector<DeadLetter*>& letters) override;
  // librdkafka queues a statistics event per statistics.interval.ms whether or not anyone
  // polls; with no dead letters nothing else would, and they would pile up in memory.
  void serve() override { producer_->poll(0); }
  std::size_t maxRecordBytes() const { return max_record_bytes_; }

  // Partitions' offsets asked of their leaders (ListOffsets: -1 latest, -2 earliest; each
  // TopicPartition's offset in, answer and error out) on this producer's connections, never
  // the consumer's: a broker answers a connection's requests in order, and the consumer's
  // connection to a leader holds a Fetch parked for up to fetch.wait.max.ms while nothing
  // arrives, so a query behind it waited that long (5 s at fetch.wait.max.ms 5000).
  RdKafka::ErrorCode listOffsets(std::vector<RdKafka::TopicPartition*>& partitions, int timeout_ms) {
    return producer_->offsetsForTimes(partitions, timeout_ms);
  }

 private:
  struct Delivery {
    bool done = false;
    std::string error;  // "" once acknowledged
  };
  void dr_cb(RdKafka::Message& message) override;
  // Queues one record; the error when librdkafka refused it at once.
  std::string produce(const DeadLetter& letter, std::uint64_t id);

  std::string topic_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::size_t max_record_bytes_ = 0;
  std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Delivery> deliveries_;  // letters in flight, by delivery-report opaque
};

}  // namespace leafsync
