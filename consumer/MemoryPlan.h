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

}  // namespace leafsync
