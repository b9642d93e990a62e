#pragma once

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

namespace leafsync {

// What operators expect on every service's /metrics: the process_* families of the Prometheus
// client conventions (CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time), read from /proc at each scrape. prometheus-cpp has no process
// collector of its own.
// Appends them to `families` (on a system without /proc, none), and leafsync_build_info{version,
// commit} = 1: which build each instance runs.
void appendProcessMetrics(std::vector<prometheus::MetricFamily>& families);

// A service's /metrics body: its registry, the process families above, and the bytes its Kafka
// clients put on the wire (KafkaWireBytes; none in a process without Kafka clients).
std::string serializeServiceMetrics(const prometheus::Registry& registry);

}  // namespace leafsync
