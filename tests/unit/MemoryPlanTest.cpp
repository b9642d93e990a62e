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
  MemoryPlan three = planMemory(64, 3);
  MemoryPlan nine = planMemory(64, 9);
  EXPECT_LT(nine.queue_kbytes, three.queue_kbytes);
  EXPECT_LT(nine.batch_bytes, three.batch_bytes);
}

TEST(MemoryPlanTest, ALargerBudgetDoesNotGrowAPartitionsQueueOrBatchPastTwoMiB) {
  MemoryPlan plan = planMemory(224, 3);
  EXPECT_EQ(plan.queue_kbytes, 2048u);
  EXPECT_EQ(plan.batch_bytes, 2 * kMiB);
}

TEST(MemoryPlanTest, FetchWaitIsShortenedOnlyWhenThePropertiesFileLeavesItOut) {
  ConsumerConfig left_out;
  planMemory(224, 9).applyTo(left_out);
  EXPECT_EQ(left_out.kafka.at("fetch.wait.max.ms"), std::to_string(MemoryPlan::fetch_wait_ms));
  ConsumerConfig chosen;
  chosen.kafka = {{"fetch.wait.max.ms", "5000"}};
  planMemory(224, 9).applyTo(chosen);
  EXPECT_EQ(chosen.kafka.at("fetch.wait.max.ms"), "5000");
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

TEST(RefetchPacerTest, AsksForAWakeEachTimeHalfTheQueueHasBeenTaken) {
  RefetchPacer pacer(1000);
  EXPECT_FALSE(pacer.taken(300));
  EXPECT_TRUE(pacer.taken(200));  // 500 taken: half the queue
  EXPECT_FALSE(pacer.taken(499));
  EXPECT_TRUE(pacer.taken(1));
  EXPECT_TRUE(pacer.taken(5000));  // one message larger than the queue: at once
}

TEST(RefetchPacerTest, WithoutAQueueLimitNeverAsks) {
  RefetchPacer pacer(0);
  EXPECT_FALSE(pacer.taken(std::size_t{1} << 30));
}

TEST(MemoryPlanTest, PrefetchQueueBytesAreThePropertyOrLibrdkafkasDefault) {
  EXPECT_EQ(prefetchQueueBytes({{"queued.max.messages.kbytes", "2048"}}), 2 * kMiB);
  EXPECT_EQ(prefetchQueueBytes({}), 64 * kMiB);
}

}  // namespace
}  // namespace leafsync
