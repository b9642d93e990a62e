#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace leafsync {

// The batch baseline's metrics (leafsync-batch-sync, the db_synchronizer_job). Where the stream
// measures the same thing the names are shared and the series carry mode="batch" (the stream's
// carry mode="stream"), so one PromQL expression grouped by mode puts both side by side:
//
//   leafsync_staleness_seconds{mode="batch",strategy}            histogram, the consumer's buckets
//   leafsync_sync_bytes_total{mode="batch",strategy,direction}   read = row bytes read from the source
//                                                               (ids of the delete check included),
//                                                               written = row bytes the copy stored
//   leafsync_sync_rows_total{mode="batch",strategy,direction}    read, written (created or changed), deleted
//
// and the job's own: runs by outcome, run duration, the last run's numbers and timestamps.
// `strategy` is "full" or "watermark"; every series exists from start-up (zeros) so that every
// dashboard query has an answer before the first run.
class BatchMetrics {
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();

 public:
  explicit BatchMetrics(std::string_view strategy);

  prometheus::Counter& bytes_read;
  prometheus::Counter& bytes_written;
  prometheus::Counter& rows_read;
  prometheus::Counter& rows_written;
  prometheus::Counter& rows_deleted;
  prometheus::Histogram& staleness;  // source change (updated_at) → visible in the batch copy
  prometheus::Histogram& run_duration;
  prometheus::Counter& runs_succeeded;
  prometheus::Counter& runs_failed;
  prometheus::Counter& runs_abandoned;  // stopped by SIGTERM mid-run
  prometheus::Gauge& running;           // 1 while a run is in progress
  prometheus::Gauge& period;
  prometheus::Gauge& last_run_start;    // unix time the last completed run started reading
  prometheus::Gauge& last_run_end;      // … and finished: the copy is as of last_run_start
  prometheus::Gauge& next_run;          // when the next run is due
  prometheus::Gauge& last_run_duration;
  prometheus::Gauge& last_run_bytes_read;
  prometheus::Gauge& last_run_bytes_written;
  prometheus::Gauge& last_run_rows_read;
  prometheus::Gauge& last_run_rows_written;
  prometheus::Gauge& last_run_rows_deleted;

  std::string serialize() const;  // Prometheus text exposition format
  prometheus::Registry& registry() { return *registry_; }
};

}  // namespace leafsync
