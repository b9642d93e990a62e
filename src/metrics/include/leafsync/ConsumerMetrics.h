#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "leafsync/ChangeEvent.h"

namespace leafsync {

// Buckets for end-to-end staleness: milliseconds for the stream up to the 600 s batch period
// and twice that, so both modes fit one histogram.
const std::vector<double>& stalenessBuckets();

// Every consumer metric, built once at start-up; children per topic are created up front so
// the hot path only increments references. Thread-safe (prometheus-cpp metrics are).
class ConsumerMetrics {
 public:
  struct TopicMetrics {
    prometheus::Counter& events_consumed;
    prometheus::Counter& bytes_consumed;
    prometheus::Counter* applied[4];  // by Op
    prometheus::Counter& ignored_stale;
    prometheus::Counter& ignored_missing_row;
    prometheus::Counter& ignored_deleted_row;
    prometheus::Counter& ignored_tombstone;
    prometheus::Counter& dead_lettered;
    prometheus::Histogram& staleness;
    // Partial updates held in the copy until the versions before them arrive: how many are
    // held now (as of this process's last batch of the topic) and how many were ever parked.
    prometheus::Gauge& events_parked;
    prometheus::Counter& events_parked_total;
  };

  explicit ConsumerMetrics(const std::vector<std::string>& topics);

  TopicMetrics& topic(const std::string& name);  // throws std::out_of_range for an unknown topic
  // Per-partition gauges, created when a partition is first reported and removed when it is
  // revoked, so labels stay bounded by the partitions this process holds.
  void setLag(const std::string& topic, std::int32_t partition, std::int64_t lag);
  void setStalled(const std::string& topic, std::int32_t partition, bool stalled);
  void setFetchPaused(const std::string& topic, std::int32_t partition, bool paused);
  void clearPartition(const std::string& topic, std::int32_t partition);

  prometheus::Histogram& apply_batch_seconds;
  prometheus::Counter& db_errors;
  prometheus::Counter& db_retries;
  prometheus::Counter& rebalances;
  prometheus::Counter& dead_letter_failures;

  std::string serialize() const;  // Prometheus text exposition format
  prometheus::Registry& registry() { return *registry_; }

 private:
  explicit ConsumerMetrics(std::shared_ptr<prometheus::Registry> registry,
                           const std::vector<std::string>& topics);

  std::shared_ptr<prometheus::Registry> registry_;
  struct PartitionGauges {
    prometheus::Family<prometheus::Gauge>& family;
    std::map<std::pair<std::string, std::int32_t>, prometheus::Gauge*> children;
    prometheus::Gauge& child(const std::string& topic, std::int32_t partition);
    void remove(const std::string& topic, std::int32_t partition);
  };
  std::map<std::string, std::unique_ptr<TopicMetrics>> topics_;
  std::mutex partition_mutex_;
  PartitionGauges lag_;
  PartitionGauges stalled_;
  PartitionGauges fetch_paused_;
};

}  // namespace leafsync
