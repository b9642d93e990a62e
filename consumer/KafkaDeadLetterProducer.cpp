#include "KafkaDeadLetterProducer.h"

#include "leafsync/ConsumerConfig.h"
#include "leafsync/Log.h"

namespace leafsync {

KafkaDeadLetterProducer::KafkaDeadLetterProducer(
    const std::map<std::string, std::string>& kafka_properties, std::string topic,
    const std::string& client_suffix)
    : topic_(std::move(topic)), logger_("dlq-" + client_suffix) {
  auto props = producerProperties(kafka_properties);
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "5";
  props["client.id"] = (props.count("client.id") ? props["client.id"] : "leafsync") + "-dlq-" + client_suffix;
  auto conf = makeKafkaConf(props);
  std::string error;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&logger_), error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw ConfigError("cannot create dead-letter producer: " + error);
}

KafkaDeadLetterProducer::~KafkaDeadLetterProducer() {
  if (producer_->flush(5000) != RdKafka::ERR_NO_ERROR || producer_->outq_len() > 0) {
    logEvent(LogLevel::Error, "dead_letter_unflushed", {{"queued", producer_->outq_len()}});
  }
}

void KafkaDeadLetterProducer::send(const InboundMessage& m, const std::string& reason) {
  std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
  headers->add("leafsync.reason", reason);
  headers->add("leafsync.source.topic", std::string(m.topic));
  headers->add("leafsync.source.partition", std::to_string(m.partition));
  headers->add("leafsync.source.offset", std::to_string(m.offset));
  headers->add("leafsync.source.timestamp_ms", std::to_string(m.timestamp_ms));
  for (;;) {
    RdKafka::ErrorCode err = producer_->produce(
        topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        m.has_value ? const_cast<char*>(m.value.data()) : nullptr, m.has_value ? m.value.size() : 0,
        m.key.empty() ? nullptr : m.key.data(), m.key.size(), 0, headers.get(), nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {
      headers.release();  // librdkafka owns them now
      return;
    }
    if (err != RdKafka::ERR__QUEUE_FULL) {
      throw DeadLetterError("dead-letter produce failed: " + RdKafka::err2str(err));
    }
    producer_->poll(100);
  }
}

void KafkaDeadLetterProducer::flush() {
  std::int64_t failed_before = failed_.load();
  producer_->flush(30000);
  if (producer_->outq_len() > 0) {
    throw DeadLetterError("dead-letter topic did not acknowledge " +
                          std::to_string(producer_->outq_len()) + " messages in 30 s");
  }
  if (failed_.load() != failed_before) {
    throw DeadLetterError("dead-letter topic refused messages");
  }
}

void KafkaDeadLetterProducer::dr_cb(RdKafka::Message& message) {
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    ++failed_;
    logEvent(LogLevel::Error, "dead_letter_failed",
             {{"topic", topic_}, {"error", message.errstr()}});
  }
}

}  // namespace leafsync
