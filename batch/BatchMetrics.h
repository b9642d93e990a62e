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
//   leafsync_wire_bytes_total{mode="batch",strategy,client="source",direction}
//                                                               a source over the network (PostgreSQL):
//                                                               bytes its connection's socket
//                                                               received / sent, as the stream's
//                                                               Kafka clients report theirs
//   leafsync_file_read_bytes_total{mode="batch",strategy,client="source"}
//                                                               a SQLite source has no wire: the
//                                                               database pages read from its file
//
// and the job's own: runs by outcome, run duration, the last run's numbers and timestamps.
// `strategy` is "full" or "watermark"; every series exists from start-up (zeros) so that every
// dashboard query has an answer before the first run.
class BatchMetrics {
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();

 public:
  // `transport`: how the source is reached (sourceTransport(url)); only its series exist.
  explicit BatchMetrics(std::string_view strategy, std::string_view transport = "file");

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

  // Adds to the transport series `transport` names ("wire" or "file"; anything else or the
  // series the job does not have: nothing).
  void addTransport(std::string_view transport, double received, double sent);
  prometheus::Counter* wire_received = nullptr;  // a source over the network only
  prometheus::Counter* wire_sent = nullptr;
  prometheus::Counter* file_read = nullptr;      // a SQLite source only

  std::string serialize() const;  // Prometheus text exposition format
  prometheus::Registry& registry() { return *registry_; }
};

}  // namespace leafsync
