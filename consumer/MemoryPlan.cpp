#include "MemoryPlan.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <memory>

#include "leafsync/KafkaConfig.h"
#include "leafsync/Log.h"

namespace leafsync {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kKiB = std::size_t{1} << 10;
constexpr std::size_t kMinPerPartition = kMiB;
// librdkafka's defaults, the ceilings of the plan.
constexpr std::size_t kDefaultPartitionFetchBytes = kMiB;
constexpr std::size_t kDefaultFetchBytes = 50 * kMiB;
// The most a partition's prefetch queue or batch in hand gets, whatever the budget.
constexpr std::size_t kMaxShare = 2 * kMiB;

// The smaller of what the properties file set and the plan's value.
void lowerTo(std::map<std::string, std::string>& props, const std::string& key, std::size_t value) {
  if (auto it = props.find(key); it != props.end()) {
    try {
      if (std::stoull(it->second) <= value) return;
    } catch (const std::exception&) {
      // librdkafka refuses the value itself when the consumer is made; the plan's is valid.
    }
  }
  props[key] = std::to_string(value);
}

}  // namespace

MemoryPlan planMemory(int budget_mb, std::size_t partitions) {
  MemoryPlan plan;
  plan.budget_bytes = static_cast<std::size_t>(budget_mb) * kMiB;
  plan.partitions = std::max<std::size_t>(1, partitions);
  std::size_t kafka = plan.budget_bytes > MemoryPlan::kFixedBytes ? plan.budget_bytes - MemoryPlan::kFixedBytes : 0;
  std::size_t per_partition = kafka / plan.partitions;
  if (budget_mb < MemoryPlan::kMinBudgetMb || per_partition < kMinPerPartition) {
    throw ConfigError("memory.budget_mb " + std::to_string(budget_mb) + " is too small for " +
                      std::to_string(plan.partitions) + " partitions: at least " +
                      std::to_string(std::max<std::size_t>(MemoryPlan::kMinBudgetMb,
                                                           (MemoryPlan::kFixedBytes + plan.partitions * kMinPerPartition) / kMiB)) +
                      " MiB");
  }
  // Per partition: 1/8 prefetch queue, up to 1/8 more from the fetch that crosses it, 1/4
  // batch in hand and 1/4 for its decoded events; 1/8 of the whole for the fetch response
  // in flight per broker. The queue need not hold much: its reader wakes the fetcher each
  // time it has taken half of it (RefetchPacer), so it only bridges one fetch (bench/peer's
  // stream, budget 64, 3 partitions: a 1/4 queue ran no faster and peaked 3-4 MB higher).
  // The batch gets more: each is a transaction with its commit.
  // Neither needs more than kMaxShare: past it a larger budget only grew the RSS (budget 224,
  // 3 partitions, shares of 14 MiB: 143 MB and 9,783 msg/s; budget 64, shares of 1.3 MiB:
  // 42 MB and 9,136 msg/s), so the budget is a bound, not a target.
  plan.queue_kbytes = std::min(per_partition / 8, kMaxShare) / kKiB;
  plan.partition_fetch_bytes = std::clamp(per_partition / 8, 64 * kKiB, kDefaultPartitionFetchBytes);
  plan.batch_bytes = std::min(per_partition / 4, kMaxShare);
  // A fetched message keeps its whole fetch response alive, and one response carries every
  // partition of the process (one consumer for all topics): a slow partition pins data of all
  // the others. Responses of at most three partitions' worth (what a consumer of one topic
  // fetched) keep the budget: with kafka / 8 (six partitions' worth at 96 MiB) the stg
  // catch-up of BoundedMemoryTest peaked 3-7 MiB higher, over it.
  plan.fetch_bytes = std::clamp(kafka / 8, plan.partition_fetch_bytes,
                                std::min(kDefaultFetchBytes, 3 * plan.partition_fetch_bytes));
  return plan;
}

void MemoryPlan::applyTo(ConsumerConfig& config) const {
  lowerTo(config.kafka, "queued.max.messages.kbytes", queue_kbytes);
  lowerTo(config.kafka, "max.partition.fetch.bytes", partition_fetch_bytes);
  lowerTo(config.kafka, "fetch.max.bytes", fetch_bytes);
  // Only when the properties file leaves it to librdkafka: a longer wait set there is a choice
  // of fewer idle fetches over catch-up speed (docs/experiment.md), kept.
  config.kafka.emplace("fetch.wait.max.ms", std::to_string(fetch_wait_ms));
  config.batch_max_bytes = config.batch_max_bytes ? std::min(config.batch_max_bytes, batch_bytes) : batch_bytes;
}

std::size_t prefetchQueueBytes(const std::map<std::string, std::string>& kafka) {
  std::size_t kbytes = 65536;  // librdkafka's default
  if (auto it = kafka.find("queued.max.messages.kbytes"); it != kafka.end()) {
    try {
      kbytes = std::stoull(it->second);
    } catch (const std::exception&) {
      // librdkafka refuses the value itself when the consumer is made.
    }
  }
  return kbytes * kKiB;
}

std::size_t countPartitions(const std::map<std::string, std::string>& kafka,
                            const std::vector<std::string>& topics, std::size_t assumed_per_topic) {
  std::string error;
  auto conf = makeKafkaConf(producerProperties(kafka));
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  if (!client) throw ConfigError("cannot create a Kafka client to count partitions: " + error);
  // One request for every topic, so a broker that is away delays the start by one timeout.
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = client->metadata(true, nullptr, &raw, 5000);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::size_t total = 0;
  for (const std::string& name : topics) {
    std::size_t count = 0;
    if (err == RdKafka::ERR_NO_ERROR && metadata) {
      for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
        if (topic->topic() == name && topic->err() == RdKafka::ERR_NO_ERROR) count = topic->partitions()->size();
      }
    }
    if (count == 0) {
      count = assumed_per_topic;
      logEvent(LogLevel::Warn, "partitions_unknown",
               {{"topic", name}, {"error", err == RdKafka::ERR_NO_ERROR ? "not described" : RdKafka::err2str(err)},
                {"assumed", count}});
    }
    total += count;
  }
  return total;
}

}  // namespace leafsync
