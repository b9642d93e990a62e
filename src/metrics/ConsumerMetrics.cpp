#include "leafsync/ConsumerMetrics.h"

#include "leafsync/ProcessMetrics.h"

namespace leafsync {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const std::vector<double>& stalenessBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30,
                                              60,    120,    300,   600,  900,   1200};
  return buckets;
}

ConsumerMetrics::ConsumerMetrics(const std::vector<std::string>& topics)
    : ConsumerMetrics(std::make_shared<prometheus::Registry>(), topics) {}

ConsumerMetrics::ConsumerMetrics(std::shared_ptr<prometheus::Registry> r,
                                 const std::vector<std::string>& topics)
    : apply_batch_seconds(BuildHistogram()
                              .Name("leafsync_apply_batch_duration_seconds")
                              .Help("Time to apply one batch to the copy, offsets included")
                              .Register(*r)
                              .Add({}, prometheus::Histogram::BucketBoundaries{
                                           0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1, 0.25, 0.5, 1, 2.5, 5})),
      db_errors(BuildCounter()
                    .Name("leafsync_db_errors_total")
                    .Help("Database operations of the copy that failed")
                    .Register(*r)
                    .Add({})),
      db_retries(BuildCounter()
                     .Name("leafsync_db_retries_total")
                     .Help("Batches retried after a database error")
                     .Register(*r)
                     .Add({})),
      rebalances(BuildCounter()
                     .Name("leafsync_rebalances_total")
                     .Help("Partition assignments and revocations seen by the consumers")
                     .Register(*r)
                     .Add({})),
      dead_letter_failures(BuildCounter()
                               .Name("leafsync_dead_letter_failures_total")
                               .Help("Dead-letter publishes that failed (the batch is retried)")
                               .Register(*r)
                               .Add({})),
      registry_(std::move(r)),
      lag_{BuildGauge()
               .Name("leafsync_consumer_lag")
               .Help("Messages in the partition (high watermark) that the copy has not committed")
               .Register(*registry_),
           {}},
      stalled_{BuildGauge()
                   .Name("leafsync_partition_stalled")
                   .Help("1 while the partition is behind and its committed offset has not moved for stall_after_s")
                   .Register(*registry_),
               {}},
      fetch_paused_{BuildGauge()
                        .Name("leafsync_partition_fetch_paused")
                        .Help("1 while the caught-up partition is left out of fetches for another one catching up")
                        .Register(*registry_),
                    {}} {
  auto& consumed = BuildCounter()
                       .Name("leafsync_events_consumed_total")
                       .Help("Kafka messages read, bad ones included")
                       .Register(*registry_);
  auto& bytes = BuildCounter()
                    .Name("leafsync_bytes_consumed_total")
                    .Help("Bytes of Kafka message keys and values read")
                    .Register(*registry_);
  auto& applied = BuildCounter()
                      .Name("leafsync_events_applied_total")
                      .Help("Events that changed the copy, by operation")
                      .Register(*registry_);
  auto& ignored = BuildCounter()
                      .Name("leafsync_events_ignored_total")
                      .Help("Valid events that changed nothing, by reason")
                      .Register(*registry_);
  auto& dead = BuildCounter()
                   .Name("leafsync_dead_letter_events_total")
                   .Help("Events sent to the dead-letter topic")
                   .Register(*registry_);
  auto& staleness = BuildHistogram()
                        .Name("leafsync_staleness_seconds")
                        .Help("Source change time to visible in the copy")
                        .Register(*registry_);
  auto& parked = BuildGauge()
                    .Name("leafsync_events_parked")
                    .Help("Partial updates held in the copy, waiting for the version before them")
                    .Register(*registry_);
  auto& parked_total = BuildCounter()
                           .Name("leafsync_events_parked_total")
                           .Help("Partial updates that arrived before the version they follow")
                           .Register(*registry_);
  for (const std::string& t : topics) {
    std::map<std::string, std::string> stream = {{"mode", "stream"}, {"topic", t}};
    auto reason = [&](const char* why) -> prometheus::Counter& {
      return ignored.Add({{"topic", t}, {"reason", why}});
    };
    auto metrics = std::unique_ptr<TopicMetrics>(new TopicMetrics{
        consumed.Add({{"topic", t}}),
        bytes.Add(stream),
        {},
        reason("stale"),
        reason("missing_row"),
        reason("deleted_row"),
        reason("tombstone"),
        dead.Add({{"topic", t}}),
        staleness.Add(stream, stalenessBuckets()),
        parked.Add({{"topic", t}}),
        parked_total.Add({{"topic", t}}),
    });
    for (Op op : {Op::Create, Op::Update, Op::Delete, Op::Snapshot}) {
      metrics->applied[static_cast<int>(op)] =
          &applied.Add({{"topic", t}, {"op", std::string(opName(op))}});
    }
    topics_.emplace(t, std::move(metrics));
  }
}

ConsumerMetrics::TopicMetrics& ConsumerMetrics::topic(const std::string& name) {
  return *topics_.at(name);
}

void ConsumerMetrics::setLag(const std::string& topic, std::int32_t partition, std::int64_t lag) {
  std::lock_guard<std::mutex> lock(partition_mutex_);
  lag_.child(topic, partition).Set(static_cast<double>(lag));
}

void ConsumerMetrics::setStalled(const std::string& topic, std::int32_t partition, bool stalled) {
  std::lock_guard<std::mutex> lock(partition_mutex_);
  stalled_.child(topic, partition).Set(stalled ? 1 : 0);
}

void ConsumerMetrics::setFetchPaused(const std::string& topic, std::int32_t partition, bool paused) {
  std::lock_guard<std::mutex> lock(partition_mutex_);
  fetch_paused_.child(topic, partition).Set(paused ? 1 : 0);
}

void ConsumerMetrics::clearPartition(const std::string& topic, std::int32_t partition) {
  std::lock_guard<std::mutex> lock(partition_mutex_);
  lag_.remove(topic, partition);
  stalled_.remove(topic, partition);
  fetch_paused_.remove(topic, partition);
}

prometheus::Gauge& ConsumerMetrics::PartitionGauges::child(const std::string& topic, std::int32_t partition) {
  auto& gauge = children[{topic, partition}];
  if (!gauge) gauge = &family.Add({{"topic", topic}, {"partition", std::to_string(partition)}});
  return *gauge;
}

void ConsumerMetrics::PartitionGauges::remove(const std::string& topic, std::int32_t partition) {
  auto it = children.find({topic, partition});
  if (it == children.end()) return;
  family.Remove(it->second);
  children.erase(it);
}

std::string ConsumerMetrics::serialize() const { return serializeServiceMetrics(*registry_); }

}  // namespace leafsync
