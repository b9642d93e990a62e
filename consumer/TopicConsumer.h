#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "PartitionApplier.h"
#include "SyncStatus.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/KafkaConfig.h"
#include "leafsync/Store.h"

namespace leafsync {

// One topic's Kafka consumer in the shared group, on a thread of its own that only polls: it
// hands each message to the PartitionApplier of its partition (one thread and one connection
// to the copy per assigned partition), so partitions are applied in parallel, each in order.
//
// On assignment it starts each partition at the offset stored in the copy (the copy, not
// Kafka, is the truth), read once: when the copy cannot be read then, the partition's applier
// reads it itself and seeks, so the rebalance callback never waits on the database. Before
// partitions are revoked their appliers commit what they hold. While an applier waits out a
// database outage, librdkafka stops fetching its partition once the partition's prefetch
// queue is full, and this thread goes on polling, so the group keeps this member. It also
// keeps lag, readiness and the stalled gauge current from the copy's committed offsets.
// requestStop() makes every applier commit what it holds, then the consumer closes (leaving
// the group at once). What the consumer cannot recover from — a fatal librdkafka error (a
// fenced static member), a failed subscribe, an authentication or authorization failure —
// goes to `fatal`, and the thread stops as if asked to.
class TopicConsumer : private RdKafka::RebalanceCb {
 public:
  TopicConsumer(const ConsumerConfig& config, const TopicConfig& topic, ConnectionPool<Store>& copy,
                DeadLetterSink& dead_letters, ConsumerMetrics& metrics, SyncStatus& status,
                FatalHandler fatal);
  ~TopicConsumer() override;

  void start();
  void requestStop() { stop_ = true; }
  void join();

 private:
  void run();
  void poll();
  void fail(const std::string& reason);
  void stopAppliers(const std::vector<std::int32_t>& partitions);
  std::vector<std::int32_t> assignedPartitions() const;  // those with an applier
  void committed(const PartitionOffset& offset, std::int64_t newest_event_ts_ms);
  // Commits the copy's offsets applied since the last call to Kafka (a mirror for tools).
  void mirrorOffsets();
  // The copy's stored offset, or for a partition the copy never saw, start_when_empty's
  // choice (latest is stored at once, so it is made once). Throws StoreError when the copy
  // cannot be read, StartUnknown when the broker's watermarks are not known.
  StartOffset resolveStart(std::int32_t partition, Store& store);
  void seek(std::int32_t partition, std::int64_t offset);
  std::int64_t cachedHighWatermark(std::int32_t partition);  // -1: not known yet
  // High watermarks, lag and stalls from the copy's committed offsets.
  void refreshPositions();
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

  const ConsumerConfig& config_;
  TopicConfig topic_;
  ConnectionPool<Store>& copy_;
  DeadLetterSink& dead_letters_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  FatalHandler fatal_;
  PartitionApplierContext applier_context_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Only the consumer thread touches these (rebalance_cb runs on it, inside consume()).
  std::map<std::int32_t, std::unique_ptr<PartitionApplier>> appliers_;
  std::mutex mirror_mutex_;
  std::map<std::int32_t, std::int64_t> to_mirror_;  // partition → next offset, not yet mirrored
  bool ever_assigned_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace leafsync
