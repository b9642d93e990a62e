#include "MemoryPlan.h"

#include <gtest/gtest.h>

namespace leafsync {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// What the plan lets the Kafka path hold per partition: the prefetch queue, the fetch that
// crosses it, the batch in hand (and its decoded events, as much again).
std::size_t perPartition(const MemoryPlan& plan) {
  return plan.queue_kbytes * 1024 + plan.partition_fetch_bytes + 2 * plan.batch_bytes;
}

TEST(MemoryPlanTest, EveryPartitionTogetherStaysWithinTheBudget) {
  for (std::size_t partitions : {1u, 3u, 9u, 24u}) {
    MemoryPlan plan = planMemory(224, partitions);
    EXPECT_LE(MemoryPlan::kFixedBytes + partitions * perPartition(plan) + plan.fetch_bytes, 224 * kMiB)
        << partitions << " partitions";
  }
}

TEST(MemoryPlanTest, MorePartitionsGetSmallerShares) {
  MemoryPlan three = planMemory(224, 3);
  MemoryPlan nine = planMemory(224, 9);
  EXPECT_LT(nine.queue_kbytes, three.queue_kbytes);
  EXPECT_LT(nine.batch_bytes, three.batch_bytes);
}

TEST(MemoryPlanTest, ABudgetTooSmallForThePartitionsIsAConfigError) {
  EXPECT_THROW(planMemory(32, 1), ConfigError);
  EXPECT_THROW(planMemory(64, 100), ConfigError);
  EXPECT_NO_THROW(planMemory(64, 9));
}

TEST(MemoryPlanTest, LowerLimitsOfThePropertiesFileAreKeptLargerOnesLowered) {
  ConsumerConfig config;
  config.kafka = {{"queued.max.messages.kbytes", "1024"}, {"fetch.max.bytes", "52428800"}};
  MemoryPlan plan = planMemory(224, 9);
  plan.applyTo(config);
  EXPECT_EQ(config.kafka.at("queued.max.messages.kbytes"), "1024");
  EXPECT_EQ(config.kafka.at("fetch.max.bytes"), std::to_string(plan.fetch_bytes));
  EXPECT_EQ(config.kafka.at("max.partition.fetch.bytes"), std::to_string(plan.partition_fetch_bytes));
  EXPECT_EQ(config.batch_max_bytes, plan.batch_bytes);
}

}  // namespace
}  // namespace leafsync
