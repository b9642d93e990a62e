#include "leafsync/KafkaWireBytes.h"

namespace leafsync {

KafkaWireBytes& KafkaWireBytes::process() {
  static KafkaWireBytes instance;
  return instance;
}

void KafkaWireBytes::record(const std::string& client, std::int64_t sent, std::int64_t received) {
  std::lock_guard<std::mutex> lock(mutex_);
  Client& c = clients_[client];
  if (sent < c.last.sent || received < c.last.received) {  // a new client under the same name
    c.earlier.sent += c.last.sent;
    c.earlier.received += c.last.received;
  }
  c.last = {sent, received};
}

KafkaWireBytes::Totals KafkaWireBytes::totals(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = clients_.find(client);
  if (it == clients_.end()) return {};
  return {it->second.earlier.sent + it->second.last.sent, it->second.earlier.received + it->second.last.received};
}

void KafkaWireBytes::appendMetrics(std::vector<prometheus::MetricFamily>& families, const std::string& mode) const {
  prometheus::MetricFamily f;
  f.name = "leafsync_wire_bytes_total";
  f.help = "Bytes the process's Kafka clients sent to / received from the brokers (librdkafka statistics: "
           "protocol framing and compression included)";
  f.type = prometheus::MetricType::Counter;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, c] : clients_) {
    for (const bool sent : {true, false}) {
      prometheus::ClientMetric m;
      m.label = {{"mode", mode}, {"client", name}, {"direction", sent ? "sent" : "received"}};
      m.counter.value = static_cast<double>(sent ? c.earlier.sent + c.last.sent : c.earlier.received + c.last.received);
      f.metric.push_back(std::move(m));
    }
  }
  if (!f.metric.empty()) families.push_back(std::move(f));
}

}  // namespace leafsync
