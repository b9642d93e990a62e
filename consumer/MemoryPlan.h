#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "leafsync/ConsumerConfig.h"

namespace leafsync {

// How memory.budget_mb is shared out: the buffers of the Kafka path of every partition the
// process could be assigned, so the budget holds however many of them it holds at once.
//
// librdkafka 2.0.2 sizes its prefetch per partition queue (each applier has its own) with
// limits fixed when the consumer is created, and a fetched message keeps the whole fetch
// response it came in alive; so the plan bounds, per partition, the prefetch queue
// (queued.max.messages.kbytes), the bytes one fetch adds to it (max.partition.fetch.bytes),
// the batch in hand (batch_max_bytes, raw messages plus their decoded events), and per
// broker the size of a fetch response (fetch.max.bytes). kFixedBytes is what the process
// needs whatever its backlog: code, threads, SQLite page caches, metrics, the HTTP server.
// 48 MiB: 40 left a catch-up 1-6 MiB over a 96 MiB budget once the binary carried more (the
// docs UI, the HTTP gate; measured by BoundedMemoryTest under the full test run's load).
struct MemoryPlan {
  static constexpr std::size_t kFixedBytes = std::size_t{48} << 20;
  static constexpr int kMinBudgetMb = 64;

  std::size_t budget_bytes = 0;
  std::size_t partitions = 0;  // every partition of the consumed topics
  std::size_t queue_kbytes = 0;           // queued.max.messages.kbytes, per partition
  std::size_t partition_fetch_bytes = 0;  // max.partition.fetch.bytes
  std::size_t fetch_bytes = 0;            // fetch.max.bytes, per broker
  std::size_t batch_bytes = 0;            // a batch in hand is applied at this size
  // fetch.wait.max.ms. librdkafka 2.0.2 has one fetch in flight per broker: once a partition
  // has caught up, each fetch the broker parks for it (up to this long, librdkafka's default
  // 500) holds back the partitions still behind, which a small queue cannot bridge (bench/peer,
  // budget 64: the partitions behind took one 0.67 MiB fetch per 500 ms, 5,803 msg/s overall;
  // with 20: 9,136). An idle consumer then asks its broker 50 times a second instead of twice
  // (1.0 % of a core, budget 64, 3 partitions), so a value in the properties file is kept.
  static constexpr int fetch_wait_ms = 20;

  // The librdkafka properties and batch limit of `config`, the plan's limits replacing
  // larger ones from the properties file (a smaller value there is kept).
  void applyTo(ConsumerConfig& config) const;
};

// Throws ConfigError when the budget cannot hold even the fixed part and one fetch per
// partition.
MemoryPlan planMemory(int budget_mb, std::size_t partitions);

// Every partition of `topics` as the broker reports them, for planMemory. A topic the broker
// does not describe within the timeout (away, or not created yet) counts as
// `assumed_per_topic` partitions, logged.
std::size_t countPartitions(const std::map<std::string, std::string>& kafka,
                            const std::vector<std::string>& topics, std::size_t assumed_per_topic);

// When a partition's reader should wake librdkafka's fetcher. librdkafka 2.0.2 stops fetching
// a partition whose prefetch queue is at queued.max.messages.kbytes and looks at it again only
// when its broker thread next wakes for something else: another partition's fetch response, a
// request (leafsync's ListOffsets every 500 ms), or after a second. Under a small budget the
// queue is emptied long before that, and the applier waited: memory.budget_mb 64 caught up
// 4.5x slower than 224. So the reader counts the bytes it takes off the queue and, once it has
// taken half the queue's limit since it last did, sends a request to the partition's leader,
// which wakes that broker thread: it sees the queue below its limit and fetches at once (what
// librdkafka 2.1's fetch.queue.backoff.ms does inside).
class RefetchPacer {
 public:
  // `queue_bytes`: the partition's prefetch limit; 0 never asks for a wake.
  explicit RefetchPacer(std::size_t queue_bytes) : every_(queue_bytes / 2) {}
  // Counts a polled message; true when the fetcher should be woken now.
  bool taken(std::size_t bytes) {
    if (every_ == 0) return false;
    since_ += bytes;
    if (since_ < every_) return false;
    since_ = 0;
    return true;
  }

 private:
  std::size_t every_;
  std::size_t since_ = 0;
};

// The prefetch limit per partition that `kafka` gives librdkafka (queued.max.messages.kbytes,
// its default 64 MiB when not set), in bytes.
std::size_t prefetchQueueBytes(const std::map<std::string, std::string>& kafka);

}  // namespace leafsync
