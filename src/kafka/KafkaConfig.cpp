#include "leafsync/KafkaConfig.h"

#include <charconv>
#include <optional>
#include <set>
#include <string_view>

#include "leafsync/ConfigError.h"
#include "leafsync/KafkaWireBytes.h"
#include "leafsync/Log.h"

namespace leafsync {
namespace {

// The integer after the last `"key":` of a statistics document. In librdkafka's document only
// the client's totals are named tx_bytes / rx_bytes (brokers and partitions count txbytes /
// rxbytes), so a search finds them without parsing the whole document — tens of kilobytes per
// client per statistics interval, on the polling thread. WireBytesTest reads the same ratios
// (1.07 / 0.12 / 0.04) as with the full parse.
std::optional<std::int64_t> lastIntegerField(std::string_view json, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\":";
  std::size_t pos = json.rfind(needle);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += needle.size();
  while (pos < json.size() && json[pos] == ' ') ++pos;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(json.data() + pos, json.data() + json.size(), value);
  if (ec != std::errc() || end == json.data() + pos) return std::nullopt;
  return value;
}

}  // namespace

std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  // The wire-byte counters (KafkaWireBytes) come from the statistics events; a JSON document per
  // client every 5 s costs next to nothing. A property of the file overrides it.
  conf->set("statistics.interval.ms", "5000", error);
  for (const auto& [key, value] : properties) {
    if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK) {
      throw ConfigError("Kafka property '" + key + "': " + error);
    }
  }
  return conf;
}

std::map<std::string, std::string> producerProperties(
    const std::map<std::string, std::string>& properties) {
  static const std::set<std::string> kConsumerOnly = {
      "group.id", "group.instance.id", "enable.auto.commit", "auto.commit.interval.ms",
      "enable.auto.offset.store", "auto.offset.reset", "partition.assignment.strategy",
      "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
      "enable.partition.eof", "isolation.level", "fetch.wait.max.ms", "fetch.min.bytes",
      "fetch.max.bytes", "fetch.message.max.bytes", "max.partition.fetch.bytes", "queued.min.messages",
      "queued.max.messages.kbytes", "group.protocol.type", "check.crcs"};
  std::map<std::string, std::string> result;
  for (const auto& [key, value] : properties) {
    if (!kConsumerOnly.count(key)) result.emplace(key, value);
  }
  // Measured on the stream's JSON events (tests/integration/WireBytesTest.cpp, 3,000 metadata
  // updates): on the wire 1.07x the payload uncompressed, 0.12x with lz4, 0.04x with zstd.
  result.emplace("compression.type", "zstd");
  return result;
}

void KafkaLogger::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      logEvent(event.fatal() ? LogLevel::Error : LogLevel::Warn, "kafka_error",
               {{"client", client_}, {"code", RdKafka::err2str(event.err())},
                {"message", event.str()}, {"fatal", event.fatal()}});
      if (event.fatal() && on_fatal_) on_fatal_(client_ + ": " + event.str());
      break;
    case RdKafka::Event::EVENT_LOG: {
      LogLevel level = event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR ? LogLevel::Error
                       : event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING
                           ? LogLevel::Warn
                           : LogLevel::Debug;
      logEvent(level, "kafka_log",
               {{"client", client_}, {"facility", event.fac()}, {"message", event.str()}});
      break;
    }
    case RdKafka::Event::EVENT_STATS: {
      const std::string& stats = event.str();
      std::optional<std::int64_t> sent = lastIntegerField(stats, "tx_bytes");
      std::optional<std::int64_t> received = lastIntegerField(stats, "rx_bytes");
      if (sent && received) KafkaWireBytes::process().record(client_, *sent, *received);
      break;
    }
    default:
      break;
  }
}

}  // namespace leafsync
