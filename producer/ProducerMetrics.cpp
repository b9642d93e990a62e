#include "ProducerMetrics.h"

#include "leafsync/ProcessMetrics.h"

namespace leafsync {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

ProducerMetrics::ProducerMetrics()
    : write_errors(BuildCounter()
                       .Name("leafsync_write_errors_total")
                       .Help("Writes refused or failed at the image-api")
                       .Register(*registry_)
                       .Add({})),
      outbox_depth(BuildGauge()
                       .Name("leafsync_outbox_depth")
                       .Help("Committed change events not yet acknowledged by Kafka")
                       .Register(*registry_)
                       .Add({})),
      events_published(BuildCounter()
                           .Name("leafsync_events_published_total")
                           .Help("Change events the outbox relay published")
                           .Register(*registry_)
                           .Add({{"mode", "stream"}})),
      bytes_published(BuildCounter()
                          .Name("leafsync_bytes_published_total")
                          .Help("Bytes of change-event values the outbox relay published")
                          .Register(*registry_)
                          .Add({{"mode", "stream"}})),
      publish_failures(BuildCounter()
                           .Name("leafsync_publish_failures_total")
                           .Help("Outbox batches that were not acknowledged and will be retried")
                           .Register(*registry_)
                           .Add({})),
      publish_latency(prometheus::BuildHistogram()
                          .Name("leafsync_publish_latency_seconds")
                          .Help("Source commit to acknowledged by Kafka, per event")
                          .Register(*registry_)
                          .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                           0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})) {
  auto& writes = BuildCounter()
                     .Name("leafsync_writes_total")
                     .Help("Writes committed to the source, by operation")
                     .Register(*registry_);
  for (Op op : {Op::Create, Op::Update, Op::Delete, Op::Snapshot}) {
    writes_[static_cast<int>(op)] = &writes.Add({{"op", std::string(opName(op))}});
  }
}

std::string ProducerMetrics::serialize() const { return serializeServiceMetrics(*registry_); }

}  // namespace leafsync
