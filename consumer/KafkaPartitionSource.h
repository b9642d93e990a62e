#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "MemoryPlan.h"
#include "MessageSource.h"

struct rd_kafka_s;
struct rd_kafka_queue_s;

namespace leafsync {

// A partition's own librdkafka queue (taken off the consumer's queue), so librdkafka's
// per-partition prefetch limits hold back fetching for a partition that falls behind
// without touching the others. wake() ends a wait through librdkafka's C handle of the same
// queue (rd_kafka_queue_yield: the C++ Queue has none), so an idle applier can wait long.
// `wake_fetch` (optional) wakes librdkafka's fetcher for this partition, called each time the
// reader has taken half of `queue_bytes` (RefetchPacer).
class KafkaPartitionSource : public MessageSource {
 public:
  // `queue` is the partition's queue of `consumer`, already taken off the consumer's queue.
  KafkaPartitionSource(std::string topic, std::int32_t partition, std::unique_ptr<RdKafka::Queue> queue,
                       rd_kafka_s* consumer, std::function<void()> wake_fetch = {}, std::size_t queue_bytes = 0);

  PolledMessage poll(std::chrono::milliseconds timeout) override;
  void release() override { held_.clear(); }
  void wake() override;

 private:
  struct QueueHandle {
    void operator()(rd_kafka_queue_s* queue) const;
  };
  const std::string topic_;  // what the polled messages' `topic` views
  std::unique_ptr<RdKafka::Queue> queue_;
  std::unique_ptr<rd_kafka_queue_s, QueueHandle> wake_handle_;  // the same queue, for wake()
  std::vector<std::unique_ptr<RdKafka::Message>> held_;  // polled since the last release()
  std::function<void()> wake_fetch_;
  RefetchPacer pacer_;
};

}  // namespace leafsync
