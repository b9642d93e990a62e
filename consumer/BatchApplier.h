#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "MessageSource.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/DebeziumCodec.h"
#include "leafsync/EventCodec.h"
#include "leafsync/Store.h"

namespace leafsync {

// A message that cannot be applied, with why; `delivered` once the dead-letter topic has
// acknowledged it, so a retried batch never sends it twice.
struct DeadLetter {
  InboundMessage message;
  std::string reason;
  bool delivered = false;
};

// Where messages that cannot be applied go. deliver() publishes each letter, waits until the
// topic acknowledged or refused every one, and marks the acknowledged ones delivered; it
// returns why the first refused one failed, or "" when all are durable. Thread-safe: the
// partition appliers of a process share one sink.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  virtual std::string deliver(const std::vector<DeadLetter*>& letters) = 0;
  // Serves what its client queued while no letter was in flight (its statistics); called
  // periodically by the topic consumers. Thread-safe.
  virtual void serve() {}
};

// A batch decoded and split: what goes to the store, the dead letters that must be durable
// before it commits, and the offsets it completes.
struct PreparedBatch {
  std::vector<ChangeEvent> events;
  std::vector<PartitionOffset> offsets;
  std::vector<DeadLetter> dead_letters;
  std::vector<std::int32_t> snapshot_ends;  // partitions whose snapshot end marker this batch holds

  bool deadLettersDelivered() const;
};

// Turns a batch of one topic's messages into one store transaction. Bad messages are
// dead-lettered (and made durable) before the transaction that moves the offset past them,
// so a crash at any point loses none. One instance per partition applier.
class BatchApplier {
 public:
  BatchApplier(const TopicConfig& topic, DeadLetterSink& dead_letters, ConsumerMetrics& metrics);

  // Decodes and splits; no I/O.
  PreparedBatch prepare(const std::vector<InboundMessage>& messages);
  // Publishes the batch's dead letters not yet delivered; "" once all are durable, else why
  // not (counted in leafsync_dead_letter_failures_total). Call again to retry the rest.
  std::string deliverDeadLetters(PreparedBatch& batch);
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
