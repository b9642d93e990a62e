#include "KafkaDeadLetterProducer.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "DeadLetterRecord.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/Log.h"

namespace leafsync {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kBrokerDefaultMaxMessageBytes = 1048588;  // Kafka's message.max.bytes
constexpr std::size_t kProducerDefaultMaxMessageBytes = 1000000;  // librdkafka's
constexpr auto kDeliveryTimeout = std::chrono::seconds(30);

template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const { Destroy(p); }
};
using AdminOptions = std::unique_ptr<rd_kafka_AdminOptions_t, Deleter<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>>;
using ConfigResource = std::unique_ptr<rd_kafka_ConfigResource_t, Deleter<rd_kafka_ConfigResource_t, rd_kafka_ConfigResource_destroy>>;
using Queue = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_t, rd_kafka_queue_destroy>>;
using Event = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_t, rd_kafka_event_destroy>>;

// The topic's max.message.bytes as the broker reports it (librdkafka's C admin API: the
// C++ API has none); nullopt when the broker did not answer in time.
std::optional<std::size_t> topicMaxMessageBytes(rd_kafka_t* client, const std::string& topic,
                                                int timeout_ms, std::string& error) {
  char errstr[256] = {0};
  AdminOptions options(rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, errstr, sizeof errstr);
  ConfigResource resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  Queue queue(rd_kafka_queue_new(client));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(client, resources, 1, options.get(), queue.get());
  Event event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (!event) {
    error = "no answer";
    return std::nullopt;
  }
  if (rd_kafka_event_error(event.get())) {
    error = rd_kafka_event_error_string(event.get());
    return std::nullopt;
  }
  std::size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  if (count != 1 || rd_kafka_ConfigResource_error(described[0])) {
    error = count == 1 ? rd_kafka_ConfigResource_error_string(described[0]) : "no such topic";
    return std::nullopt;
  }
  std::size_t entries = 0;
  const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(described[0], &entries);
  for (std::size_t i = 0; i < entries; ++i) {
    if (std::strcmp(rd_kafka_ConfigEntry_name(configs[i]), "max.message.bytes") == 0 &&
        rd_kafka_ConfigEntry_value(configs[i])) {
      return static_cast<std::size_t>(std::stoull(rd_kafka_ConfigEntry_value(configs[i])));
    }
  }
  error = "max.message.bytes not reported";
  return std::nullopt;
}

}  // namespace

KafkaDeadLetterProducer::KafkaDeadLetterProducer(
    const std::map<std::string, std::string>& kafka_properties, std::string topic,
    KafkaLogger::FatalHandler on_fatal)
    : topic_(std::move(topic)), logger_("dlq", std::move(on_fatal)) {
  auto props = producerProperties(kafka_properties);
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "5";
  props["client.id"] = (props.count("client.id") ? props["client.id"] : "leafsync") + "-dlq";
  std::size_t producer_max = kProducerDefaultMaxMessageBytes;
  if (auto it = props.find("message.max.bytes"); it != props.end()) producer_max = std::stoull(it->second);
  auto conf = makeKafkaConf(props);
  std::string error;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&logger_), error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw ConfigError("cannot create dead-letter producer: " + error);

  std::string why;
  std::optional<std::size_t> topic_max = topicMaxMessageBytes(producer_->c_ptr(), topic_, 3000, why);
  if (!topic_max) {
    logEvent(LogLevel::Warn, "dead_letter_limit_unknown",
             {{"topic", topic_}, {"error", why}, {"assumed", kBrokerDefaultMaxMessageBytes}});
  }
  // A batch of several letters must fit the topic too: librdkafka bounds its batches by
  // message.max.bytes, which is why the smaller of the two limits shapes every record.
  max_record_bytes_ = std::min(producer_max, topic_max.value_or(kBrokerDefaultMaxMessageBytes));
  logEvent(LogLevel::Info, "dead_letter_producer_ready",
           {{"topic", topic_}, {"max_record_bytes", max_record_bytes_}});
}

KafkaDeadLetterProducer::~KafkaDeadLetterProducer() {
  if (producer_->flush(5000) != RdKafka::ERR_NO_ERROR || producer_->outq_len() > 0) {
    logEvent(LogLevel::Error, "dead_letter_unflushed", {{"queued", producer_->outq_len()}});
  }
}

std::string KafkaDeadLetterProducer::produce(const DeadLetter& letter, std::uint64_t id) {
  DeadLetterRecord record = shapeDeadLetter(letter, max_record_bytes_);
  std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
  for (const auto& [name, value] : record.headers) headers->add(name, value);
  void* opaque = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
  for (;;) {
    RdKafka::ErrorCode err = producer_->produce(
        topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        record.has_value ? record.value.data() : nullptr, record.has_value ? record.value.size() : 0,
        record.key.empty() ? nullptr : record.key.data(), record.key.size(), 0, headers.get(), opaque);
    if (err == RdKafka::ERR_NO_ERROR) {
      (void)headers.release();  // librdkafka owns them now
      return "";
    }
    if (err != RdKafka::ERR__QUEUE_FULL) return "dead-letter produce failed: " + RdKafka::err2str(err);
    producer_->poll(100);
  }
}

std::string KafkaDeadLetterProducer::deliver(const std::vector<DeadLetter*>& letters) {
  std::vector<std::uint64_t> ids;
  std::string first_error;
  for (DeadLetter* letter : letters) {
    std::uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      id = next_id_++;
      deliveries_[id];
    }
    std::string refused = produce(*letter, id);
    if (!refused.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      deliveries_.erase(id);
      if (first_error.empty()) first_error = refused;
      ids.push_back(0);
      continue;
    }
    ids.push_back(id);
  }
  // Whoever polls serves every applier's reports; each waits only for its own letters.
  auto until = Clock::now() + kDeliveryTimeout;
  auto all_done = [&] {
    for (std::uint64_t id : ids) {
      if (id != 0 && !deliveries_[id].done) return false;
    }
    return true;
  };
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (all_done()) break;
    }
    if (Clock::now() >= until) break;
    producer_->poll(20);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < letters.size(); ++i) {
    if (ids[i] == 0) continue;
    auto it = deliveries_.find(ids[i]);
    if (it->second.done && it->second.error.empty()) {
      letters[i]->delivered = true;
    } else if (first_error.empty()) {
      first_error = it->second.done ? "dead-letter topic refused a message: " + it->second.error
                                    : "dead-letter topic did not acknowledge in 30 s";
    }
    // A report arriving after this is for a letter the caller retries: ignored (dr_cb).
    deliveries_.erase(it);
  }
  return first_error;
}

void KafkaDeadLetterProducer::dr_cb(RdKafka::Message& message) {
  auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(message.msg_opaque()));
  std::string error = message.err() == RdKafka::ERR_NO_ERROR ? "" : message.errstr();
  if (!error.empty()) {
    logEvent(LogLevel::Error, "dead_letter_failed", {{"topic", topic_}, {"error", error}});
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = deliveries_.find(id);
  if (it == deliveries_.end()) return;
  it->second.done = true;
  it->second.error = std::move(error);
}

}  // namespace leafsync
