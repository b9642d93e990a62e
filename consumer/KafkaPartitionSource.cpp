#include "KafkaPartitionSource.h"

#include <librdkafka/rdkafka.h>

namespace leafsync {

void KafkaPartitionSource::QueueHandle::operator()(rd_kafka_queue_s* queue) const { rd_kafka_queue_destroy(queue); }

KafkaPartitionSource::KafkaPartitionSource(std::string topic, std::int32_t partition,
                                           std::unique_ptr<RdKafka::Queue> queue, rd_kafka_s* consumer,
                                           std::function<void()> wake_fetch, std::size_t queue_bytes)
    : topic_(std::move(topic)),
      queue_(std::move(queue)),
      wake_handle_(rd_kafka_queue_get_partition(consumer, topic_.c_str(), partition)),
      wake_fetch_(std::move(wake_fetch)),
      pacer_(wake_fetch_ ? queue_bytes : 0) {}

void KafkaPartitionSource::wake() {
  // Sticks until the next wait when none is in progress, so a wake is never lost.
  if (wake_handle_) rd_kafka_queue_yield(wake_handle_.get());
}

PolledMessage KafkaPartitionSource::poll(std::chrono::milliseconds timeout) {
  std::unique_ptr<RdKafka::Message> m(queue_->consume(static_cast<int>(timeout.count())));
  PolledMessage polled;
  switch (m->err()) {
    case RdKafka::ERR_NO_ERROR: {
      polled.kind = PolledMessage::Kind::Message;
      InboundMessage& in = polled.message;
      in.topic = topic_;
      in.partition = m->partition();
      in.offset = m->offset();
      if (m->key_pointer()) in.key = std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len());
      in.has_value = m->payload() != nullptr;
      if (in.has_value) in.value = std::string_view(static_cast<const char*>(m->payload()), m->len());
      in.timestamp_ms = m->timestamp().timestamp;
      held_.push_back(std::move(m));
      if (pacer_.taken(in.value.size() + in.key.size())) wake_fetch_();
      break;
    }
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      polled.kind = PolledMessage::Kind::Empty;
      break;
    case RdKafka::ERR__FATAL:
      polled.kind = PolledMessage::Kind::Fatal;
      polled.error = m->errstr();
      break;
    default:
      polled.kind = PolledMessage::Kind::Error;
      polled.error = m->errstr();
      break;
  }
  return polled;
}

}  // namespace leafsync
