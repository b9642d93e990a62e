#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "BatchApplier.h"
#include "leafsync/KafkaConfig.h"
#include "SyncStatus.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/Store.h"

namespace leafsync {

// One topic's consumer thread: its own KafkaConsumer in the shared group, its own connection
// to the copy, batches applied in one transaction with their offsets. On assignment it seeks
// to the offsets stored in the copy (the copy, not Kafka, is the truth); before partitions are
// revoked it applies what it holds. requestStop() makes the thread finish the batch in hand,
// commit and close the consumer.
class TopicConsumer : private RdKafka::RebalanceCb {
 public:
  TopicConsumer(const ConsumerConfig& config, const TopicConfig& topic,
                std::unique_ptr<Store> store, std::unique_ptr<DeadLetterSink> dead_letters,
                ConsumerMetrics& metrics, SyncStatus& status);
  ~TopicConsumer() override;

  void start();
  void requestStop() { stop_ = true; }
  void join();

 private:
  void run();
  void flushPending();
  void commitToKafka(const std::vector<PartitionOffset>& offsets);
  void refreshPositions();
  std::int64_t startWhenEmpty(const RdKafka::TopicPartition& tp);  // offset for a partition the copy never saw  // watermarks and fetch positions for lag and readiness
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  void backoff(int attempt);
  // Pauses the partitions and keeps polling for a while; false when partitions were revoked
  // meanwhile (the batch in hand must then be dropped).
  bool waitOutOutage(int attempt);
  void rewindUncommitted();

  const ConsumerConfig& config_;
  TopicConfig topic_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeadLetterSink> dead_letters_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  BatchApplier applier_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::unique_ptr<RdKafka::Message>> pending_;
  std::vector<std::unique_ptr<RdKafka::Message>> held_;  // arrived while waiting out an outage
  bool in_outage_ = false;
  bool revoked_in_outage_ = false;
  std::atomic<bool> stop_{false};
  bool ever_assigned_ = false;  // only the consumer thread touches it
  std::thread thread_;
};

}  // namespace leafsync
