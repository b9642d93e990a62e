#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace leafsync {

// The bytes this process's Kafka clients sent to and received from the brokers, as librdkafka
// counts them (its statistics' tx_bytes / rx_bytes: requests and responses with their protocol
// framing, after compression) — what crosses the network, next to the payload bytes we count
// ourselves. Fed by KafkaLogger from each client's statistics event (statistics.interval.ms).
// One per process, since all its clients report to it; thread-safe.
class KafkaWireBytes {
 public:
  static KafkaWireBytes& process();

  // `sent` and `received` are the client's totals since it was created; a client created again
  // under the same name starts from zero, and what its predecessor counted is kept.
  void record(const std::string& client, std::int64_t sent, std::int64_t received);

  // leafsync_wire_bytes_total{mode, client, direction="sent"|"received"}.
  void appendMetrics(std::vector<prometheus::MetricFamily>& families, const std::string& mode) const;

  struct Totals {
    std::int64_t sent = 0, received = 0;
  };
  Totals totals(const std::string& client) const;

 private:
  struct Client {
    Totals earlier;  // of the client's predecessors under this name
    Totals last;     // the current client's last report
  };
  mutable std::mutex mutex_;
  std::map<std::string, Client> clients_;
};

}  // namespace leafsync
