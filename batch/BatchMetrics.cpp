#include "BatchMetrics.h"

#include "leafsync/ConsumerMetrics.h"
#include "leafsync/ProcessMetrics.h"

namespace leafsync {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

namespace {

using Labels = std::map<std::string, std::string>;

prometheus::Family<prometheus::Counter>& counterFamily(prometheus::Registry& r, const char* name, const char* help) {
  return BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Gauge& gauge(prometheus::Registry& r, const char* name, const char* help, const Labels& labels) {
  return BuildGauge().Name(name).Help(help).Register(r).Add(labels);
}

}  // namespace

BatchMetrics::BatchMetrics(std::string_view strategy_name, std::string_view transport)
    : bytes_read(counterFamily(*registry_, "leafsync_sync_bytes_total",
                               "Bytes moved by the sync: for the batch job, row bytes read from the source "
                               "(direction=read) and stored in its copy (direction=written)")
                     .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}, {"direction", "read"}})),
      bytes_written(counterFamily(*registry_, "leafsync_sync_bytes_total", "")
                        .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}, {"direction", "written"}})),
      rows_read(counterFamily(*registry_, "leafsync_sync_rows_total",
                              "Rows moved by the sync: read from the source, written (created or changed) "
                              "in the copy, deleted from the copy")
                    .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}, {"direction", "read"}})),
      rows_written(counterFamily(*registry_, "leafsync_sync_rows_total", "")
                       .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}, {"direction", "written"}})),
      rows_deleted(counterFamily(*registry_, "leafsync_sync_rows_total", "")
                       .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}, {"direction", "deleted"}})),
      staleness(BuildHistogram()
                    .Name("leafsync_staleness_seconds")
                    .Help("Source change time to visible in the copy")
                    .Register(*registry_)
                    .Add({{"mode", "batch"}, {"strategy", std::string(strategy_name)}}, stalenessBuckets())),
      run_duration(BuildHistogram()
                       .Name("leafsync_batch_run_duration_seconds")
                       .Help("Wall time of one batch run, source read to last copy commit")
                       .Register(*registry_)
                       .Add({{"strategy", std::string(strategy_name)}},
                            prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                                                    30, 60, 120, 300, 600})),
      runs_succeeded(counterFamily(*registry_, "leafsync_batch_runs_total", "Batch runs by outcome")
                         .Add({{"strategy", std::string(strategy_name)}, {"outcome", "success"}})),
      runs_failed(counterFamily(*registry_, "leafsync_batch_runs_total", "")
                      .Add({{"strategy", std::string(strategy_name)}, {"outcome", "failure"}})),
      runs_abandoned(counterFamily(*registry_, "leafsync_batch_runs_total", "")
                         .Add({{"strategy", std::string(strategy_name)}, {"outcome", "abandoned"}})),
      running(gauge(*registry_, "leafsync_batch_running", "1 while a batch run is in progress",
                    {{"strategy", std::string(strategy_name)}})),
      period(gauge(*registry_, "leafsync_batch_period_seconds", "Time between the starts of two batch runs",
                   {{"strategy", std::string(strategy_name)}})),
      last_run_start(gauge(*registry_, "leafsync_batch_last_run_start_timestamp_seconds",
                           "Unix time the last completed run started reading the source: the batch copy "
                           "holds the source as of then",
                           {{"strategy", std::string(strategy_name)}})),
      last_run_end(gauge(*registry_, "leafsync_batch_last_run_timestamp_seconds",
                         "Unix time the last completed run finished",
                         {{"strategy", std::string(strategy_name)}})),
      next_run(gauge(*registry_, "leafsync_batch_next_run_timestamp_seconds", "Unix time the next run is due",
                     {{"strategy", std::string(strategy_name)}})),
      last_run_duration(gauge(*registry_, "leafsync_batch_last_run_duration_seconds",
                              "Wall time of the last completed run", {{"strategy", std::string(strategy_name)}})),
      last_run_bytes_read(gauge(*registry_, "leafsync_batch_last_run_bytes", "Bytes the last completed run moved",
                                {{"strategy", std::string(strategy_name)}, {"direction", "read"}})),
      last_run_bytes_written(gauge(*registry_, "leafsync_batch_last_run_bytes", "",
                                   {{"strategy", std::string(strategy_name)}, {"direction", "written"}})),
      last_run_rows_read(gauge(*registry_, "leafsync_batch_last_run_rows", "Rows the last completed run moved",
                               {{"strategy", std::string(strategy_name)}, {"direction", "read"}})),
      last_run_rows_written(gauge(*registry_, "leafsync_batch_last_run_rows", "",
                                  {{"strategy", std::string(strategy_name)}, {"direction", "written"}})),
      last_run_rows_deleted(gauge(*registry_, "leafsync_batch_last_run_rows", "",
                                  {{"strategy", std::string(strategy_name)}, {"direction", "deleted"}})) {
  const std::string strategy(strategy_name);
  if (transport == "wire") {
    auto& wire = counterFamily(*registry_, "leafsync_wire_bytes_total",
                               "Bytes on the network: for the batch job, what its connection to the source "
                               "received and sent (the socket's tcp_info: protocol framing included)");
    wire_received = &wire.Add({{"mode", "batch"}, {"strategy", strategy}, {"client", "source"}, {"direction", "received"}});
    wire_sent = &wire.Add({{"mode", "batch"}, {"strategy", strategy}, {"client", "source"}, {"direction", "sent"}});
  } else if (transport == "file") {
    file_read = &counterFamily(*registry_, "leafsync_file_read_bytes_total",
                               "A SQLite source has no wire: bytes of the database pages the batch job read "
                               "from its file (page cache misses x page size)")
                     .Add({{"mode", "batch"}, {"strategy", strategy}, {"client", "source"}});
  }
}

void BatchMetrics::addTransport(std::string_view transport, double received, double sent) {
  if (transport == "wire" && wire_received) {
    wire_received->Increment(received);
    wire_sent->Increment(sent);
  } else if (transport == "file" && file_read) {
    file_read->Increment(received);
  }
}

std::string BatchMetrics::serialize() const { return serializeServiceMetrics(*registry_); }

}  // namespace leafsync
