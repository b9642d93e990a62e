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
  // Per partition: 3/8 prefetch queue, up to 1/8 more from the fetch that crosses it, 1/8
  // batch in hand and 1/8 for its decoded events; 1/8 of the whole for the fetch response
  // in flight per broker. The queue gets the most: librdkafka 2.0.2 waits a second before
  // fetching again for a partition whose queue is full, so the queue is what keeps the
  // applier busy meanwhile (measured: with 1/4 queue and 1/4 batch, 20 KiB events caught up
  // at 0.62 of the unbounded rate).
  plan.queue_kbytes = per_partition * 3 / 8 / kKiB;
  plan.partition_fetch_bytes = std::clamp(per_partition / 8, 64 * kKiB, kDefaultPartitionFetchBytes);
  plan.batch_bytes = per_partition / 8;
  plan.fetch_bytes = std::clamp(kafka / 8, plan.partition_fetch_bytes, kDefaultFetchBytes);
  return plan;
}

void MemoryPlan::applyTo(ConsumerConfig& config) const {
  lowerTo(config.kafka, "queued.max.messages.kbytes", queue_kbytes);
  lowerTo(config.kafka, "max.partition.fetch.bytes", partition_fetch_bytes);
  lowerTo(config.kafka, "fetch.max.bytes", fetch_bytes);
  config.batch_max_bytes = config.batch_max_bytes ? std::min(config.batch_max_bytes, batch_bytes) : batch_bytes;
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
