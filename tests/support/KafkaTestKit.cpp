#include "support/KafkaTestKit.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <stdexcept>

namespace leafsync::testing {

std::string testBootstrap() {
  const char* env = std::getenv("LEAFSYNC_TEST_BOOTSTRAP");
  return env && *env ? env : "127.0.0.1:9092";
}

ScopedBootstrap::ScopedBootstrap(const std::string& address) {
  if (const char* old = std::getenv("LEAFSYNC_TEST_BOOTSTRAP")) old_ = old;
  ::setenv("LEAFSYNC_TEST_BOOTSTRAP", address.c_str(), 1);
}

ScopedBootstrap::~ScopedBootstrap() { ::setenv("LEAFSYNC_TEST_BOOTSTRAP", old_.c_str(), 1); }

namespace {

using AdminClient = std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)>;

// A client of the test broker for admin requests (librdkafka's C API: the C++ one has none).
AdminClient adminClient() {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", testBootstrap().c_str(), error, sizeof error);
  AdminClient admin(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error), rd_kafka_destroy);
  if (!admin) throw std::runtime_error(std::string("admin client: ") + error);
  return admin;
}

}  // namespace

void createTopics(const std::vector<std::string>& topics, int partitions,
                  const std::map<std::string, std::string>& configs) {
  char error[512];
  AdminClient admin = adminClient();

  std::vector<rd_kafka_NewTopic_t*> requests;
  for (const std::string& topic : topics) {
    requests.push_back(rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error, sizeof error));
    for (const auto& [name, value] : configs) rd_kafka_NewTopic_set_config(requests.back(), name.c_str(), value.c_str());
  }
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(
      rd_kafka_queue_new(admin.get()), rd_kafka_queue_destroy);
  rd_kafka_CreateTopics(admin.get(), requests.data(), requests.size(), nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> event(
      rd_kafka_queue_poll(queue.get(), 30000), rd_kafka_event_destroy);
  rd_kafka_NewTopic_destroy_array(requests.data(), requests.size());
  if (!event) throw std::runtime_error("CreateTopics timed out");
  if (rd_kafka_event_error(event.get())) {
    throw std::runtime_error(std::string("CreateTopics: ") + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      throw std::runtime_error(std::string("CreateTopics ") + rd_kafka_topic_result_name(results[i]) +
                               ": " + rd_kafka_err2str(err));
    }
  }
}

WatermarkReader::WatermarkReader() {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", testBootstrap(), error);
  client_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!client_) throw std::runtime_error(error);
}

WatermarkReader::~WatermarkReader() = default;

std::int64_t WatermarkReader::sum(const std::vector<std::string>& topics, int partitions,
                                  std::chrono::milliseconds timeout) {
  std::int64_t total = 0;
  for (const std::string& topic : topics) {
    for (int p = 0; p < partitions; ++p) {
      std::int64_t low = 0, high = -1;
      if (client_->query_watermark_offsets(topic, p, &low, &high, static_cast<int>(timeout.count())) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        return -1;
      }
      total += high;
    }
  }
  return total;
}

void addPartitions(const std::string& topic, int total) {
  char error[512];
  AdminClient admin = adminClient();
  std::unique_ptr<rd_kafka_NewPartitions_t, void (*)(rd_kafka_NewPartitions_t*)> request(
      rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total), error, sizeof error),
      rd_kafka_NewPartitions_destroy);
  if (!request) throw std::runtime_error(std::string("NewPartitions: ") + error);
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(
      rd_kafka_queue_new(admin.get()), rd_kafka_queue_destroy);
  rd_kafka_NewPartitions_t* requests[] = {request.get()};
  rd_kafka_CreatePartitions(admin.get(), requests, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> event(
      rd_kafka_queue_poll(queue.get(), 30000), rd_kafka_event_destroy);
  if (!event) throw std::runtime_error("CreatePartitions timed out");
  if (rd_kafka_event_error(event.get())) {
    throw std::runtime_error(std::string("CreatePartitions: ") + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("CreatePartitions ") + topic + ": " + rd_kafka_err2str(err));
    }
  }
}

std::vector<ReadMessage> readTopic(const std::string& topic, std::size_t expected,
                                   std::chrono::milliseconds deadline) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", testBootstrap(), error);
  conf->set("group.id", "leafsync-test-reader", error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::runtime_error(error);

  // Assign every partition from the beginning, no group membership needed.
  RdKafka::Metadata* raw_metadata = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
  if (consumer->metadata(false, handle.get(), &raw_metadata, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("metadata for " + topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto* t : *metadata->topics()) {
    for (const auto* p : *t->partitions()) {
      partitions.push_back(RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  consumer->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);

  std::vector<ReadMessage> messages;
  auto until = std::chrono::steady_clock::now() + deadline;
  while (messages.size() < expected && std::chrono::steady_clock::now() < until) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    ReadMessage r;
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key()) r.key = *m->key();
    r.has_value = m->payload() != nullptr;
    if (r.has_value) r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* headers = m->headers()) {
      for (const auto& h : headers->get_all()) {
        r.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    messages.push_back(std::move(r));
  }
  consumer->close();
  return messages;
}

TestProducer::TestProducer() {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", testBootstrap(), error);
  conf->set("enable.idempotence", "true", error);
  conf->set("linger.ms", "5", error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (!producer_) throw std::runtime_error(error);
}

TestProducer::~TestProducer() { producer_->flush(10000); }

void TestProducer::produce(const std::string& topic, const std::string& key, const std::string* value) {
  for (;;) {
    auto err = producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                  value ? const_cast<char*>(value->data()) : nullptr,
                                  value ? value->size() : 0, key.data(), key.size(), 0, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error("produce: " + RdKafka::err2str(err));
    producer_->poll(50);
  }
}

void TestProducer::send(const std::string& topic, const std::string& key, const std::string& value) {
  produce(topic, key, &value);
}

void TestProducer::sendTombstone(const std::string& topic, const std::string& key) {
  produce(topic, key, nullptr);
}

void TestProducer::flush() {
  producer_->flush(30000);
  if (producer_->outq_len() > 0) throw std::runtime_error("test producer could not deliver everything");
}

}  // namespace leafsync::testing
