#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "leafsync/ChangeEvent.h"

namespace leafsync {

// The producer's metrics: writes by op, the outbox and what the relay published.
// Built once at start-up; thread-safe.
class ProducerMetrics {
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();

 public:
  ProducerMetrics();

  prometheus::Counter& write(Op op) { return *writes_[static_cast<int>(op)]; }
  prometheus::Counter& write_errors;
  prometheus::Gauge& outbox_depth;
  prometheus::Counter& events_published;
  prometheus::Counter& bytes_published;
  prometheus::Counter& publish_failures;
  prometheus::Histogram& publish_latency;  // source commit → acknowledged by Kafka

  std::string serialize() const;
  prometheus::Registry& registry() { return *registry_; }

 private:
  prometheus::Counter* writes_[4] = {};
};

}  // namespace leafsync
