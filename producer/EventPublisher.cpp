#include "EventPublisher.h"

#include "leafsync/ConsumerConfig.h"
#include "leafsync/Log.h"

namespace leafsync {

KafkaEventPublisher::KafkaEventPublisher(const std::map<std::string, std::string>& kafka_properties) {
  auto props = producerProperties(kafka_properties);
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props.emplace("linger.ms", "5");
  props.emplace("compression.type", "lz4");
  auto conf = makeKafkaConf(props);
  std::string error;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&logger_), error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw ConfigError("cannot create the outbox producer: " + error);
}

KafkaEventPublisher::~KafkaEventPublisher() {
  producer_->flush(5000);
  if (producer_->outq_len() > 0) {
    // Still in the outbox, so the next start publishes them again: nothing is lost.
    logEvent(LogLevel::Warn, "outbox_unflushed", {{"queued", producer_->outq_len()}});
  }
}

void KafkaEventPublisher::send(const std::string& topic, const std::string& key, const std::string& value) {
  produce(topic, RdKafka::Topic::PARTITION_UA, key, value);
}

void KafkaEventPublisher::sendToAllPartitions(const std::string& topic, const std::string& key,
                                              const std::string& value) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (!handle || producer_->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    ++failed_;  // the batch is retried
    logEvent(LogLevel::Error, "publish_failed", {{"topic", topic}, {"error", "no metadata for the topic"}});
    return;
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const auto* t : *metadata->topics()) {
    for (const auto* p : *t->partitions()) produce(topic, p->id(), key, value);
  }
}

void KafkaEventPublisher::produce(const std::string& topic, std::int32_t partition, const std::string& key,
                                  const std::string& value) {
  for (;;) {
    auto err = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                  const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                                  nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      ++failed_;
      logEvent(LogLevel::Error, "publish_failed", {{"topic", topic}, {"error", RdKafka::err2str(err)}});
      return;
    }
    producer_->poll(10);
  }
}

void KafkaEventPublisher::serveEvents() { producer_->poll(0); }

FlushResult KafkaEventPublisher::flush(std::chrono::milliseconds timeout) {
  // librdkafka retries a queued event until message.timeout.ms, then reports it failed; until
  // then it is on its way, and sending it again would only queue a second copy.
  producer_->flush(static_cast<int>(timeout.count()));
  if (producer_->outq_len() > 0) return FlushResult::Pending;
  std::int64_t failed = failed_.load();
  bool ok = failed == failed_at_last_flush_;
  failed_at_last_flush_ = failed;
  return ok ? FlushResult::Acknowledged : FlushResult::Failed;
}

void KafkaEventPublisher::dr_cb(RdKafka::Message& message) {
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    ++failed_;
    logEvent(LogLevel::Error, "publish_failed", {{"topic", message.topic_name()}, {"error", message.errstr()}});
  }
}

}  // namespace leafsync
