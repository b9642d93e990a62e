#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <memory>
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
// On assignment it seeks to the offsets stored in the copy (the copy, not Kafka, is the
// truth); before partitions are revoked their appliers commit what they hold. While an
// applier waits out a database outage, librdkafka stops fetching its partition once the
// partition's prefetch queue is full, and this thread goes on polling, so the group keeps
// this member. requestStop() makes every applier commit what it holds, then the consumer
// closes (leaving the group at once).
class TopicConsumer : private RdKafka::RebalanceCb {
 public:
  TopicConsumer(const ConsumerConfig& config, const TopicConfig& topic, ConnectionPool<Store>& copy,
                std::unique_ptr<DeadLetterSink> dead_letters, ConsumerMetrics& metrics,
                SyncStatus& status);
  ~TopicConsumer() override;

  void start();
  void requestStop() { stop_ = true; }
  void join();

 private:
  void run();
  void stopAppliers(const std::vector<std::int32_t>& partitions);
  std::vector<std::int32_t> assignedPartitions() const;  // those with an applier
  void committed(const PartitionOffset& offset, std::int64_t newest_event_ts_ms);
  std::optional<std::int64_t> storedOffset(const RdKafka::TopicPartition& tp);
  // The offset of a partition the copy never saw (start_when_empty).
  std::int64_t startWhenEmpty(const RdKafka::TopicPartition& tp);
  // Watermarks and fetch positions, for lag and readiness.
  void refreshPositions();
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  void backoff(int attempt);

  const ConsumerConfig& config_;
  TopicConfig topic_;
  ConnectionPool<Store>& copy_;
  std::unique_ptr<DeadLetterSink> dead_letters_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  PartitionApplierContext applier_context_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Only the consumer thread touches these (rebalance_cb runs on it, inside consume()).
  std::map<std::int32_t, std::unique_ptr<PartitionApplier>> appliers_;
  bool ever_assigned_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace leafsync
