#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/DebeziumCodec.h"
#include "leafsync/EventCodec.h"
#include "leafsync/Store.h"

namespace leafsync {

// A Kafka message as the applier sees it: views into a message that outlives the batch.
struct InboundMessage {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string_view key;
  std::string_view value;
  bool has_value = true;  // false for a Kafka tombstone (null value)
  std::int64_t timestamp_ms = 0;
};

class DeadLetterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where messages that cannot be applied go, with the reason. send() may buffer; flush()
// returns once every message sent so far is durable, or throws DeadLetterError.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual void send(const InboundMessage& message, const std::string& reason) = 0;
  virtual void flush() = 0;
};

// A batch decoded and split: what goes to the store, and the offsets it completes.
struct PreparedBatch {
  std::vector<ChangeEvent> events;
  std::vector<PartitionOffset> offsets;
  std::size_t dead_lettered = 0;
  std::vector<std::int32_t> snapshot_ends;  // partitions whose snapshot end marker this batch holds
};

// Turns a batch of one topic's messages into one store transaction. Bad messages are
// dead-lettered (and made durable) before the transaction that moves the offset past them,
// so a crash at any point loses none. One instance per consumer thread.
class BatchApplier {
 public:
  BatchApplier(const TopicConfig& topic, DeadLetterSink& dead_letters, ConsumerMetrics& metrics);

  // Decodes and dead-letters; throws DeadLetterError if the dead letters are not durable.
  PreparedBatch prepare(const std::vector<InboundMessage>& messages);
  // One transaction: rows and offsets. Throws StoreError; then call again with the same batch.
  ApplyCounts commit(Store& store, const PreparedBatch& batch);

 private:
  TopicConfig topic_;
  DeadLetterSink& dead_letters_;
  ConsumerMetrics& metrics_;
  ConsumerMetrics::TopicMetrics& topic_metrics_;
  EventCodec codec_;
  DebeziumCodec debezium_;
};

}  // namespace leafsync
