#include "BenchSupport.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "leafsync/ConfigSupport.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/EventCodec.h"
#include "leafsync/KafkaConfig.h"
#include "leafsync/Timestamp.h"

namespace leafsync::bench {

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void die(const std::string& message) { throw BenchError(message); }

void settleDisk() { ::sync(); }

double loadAverage() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

std::string randomSuffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// ----------------------------------------------------------------------------- workload ----

Workload::Workload(std::size_t image_bytes) : images_(256) {
  std::mt19937_64 rng(42);
  for (auto& image : images_) {
    image.resize(image_bytes);
    for (char& c : image) c = static_cast<char>(rng());
  }
}

std::vector<Spec> Workload::creates(std::int64_t n) {
  std::vector<Spec> specs;
  specs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t id = 1; id <= n; ++id) specs.push_back({Op::Create, id, 1});
  return specs;
}

std::vector<Spec> Workload::mix(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Spec> specs;
  specs.reserve(static_cast<std::size_t>(n));
  std::vector<std::int64_t> live;
  std::vector<std::int64_t> versions(1, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    unsigned roll = static_cast<unsigned>(rng() % 100);
    if (live.empty() || roll < 60) {
      auto id = static_cast<std::int64_t>(versions.size());
      versions.push_back(1);
      live.push_back(id);
      specs.push_back({Op::Create, id, 1});
      continue;
    }
    std::size_t pick = static_cast<std::size_t>(rng() % live.size());
    std::int64_t id = live[pick];
    std::int64_t version = ++versions[static_cast<std::size_t>(id)];
    if (roll < 95) {
      specs.push_back({Op::Update, id, version});
    } else {
      specs.push_back({Op::Delete, id, version});
      live[pick] = live.back();
      live.pop_back();
    }
  }
  return specs;
}

std::int64_t Workload::liveRows(const std::vector<Spec>& specs) {
  std::int64_t n = 0;
  for (const Spec& s : specs) n += s.op == Op::Create ? 1 : s.op == Op::Delete ? -1 : 0;
  return n;
}

const std::string& Workload::image(std::int64_t id) const {
  return images_[static_cast<std::size_t>(id) % images_.size()];
}

ChangeEvent Workload::event(const Spec& s, std::int64_t ts_ms) const {
  ChangeEvent e;
  e.op = s.op;
  e.plant = Plant::Potato;
  e.source_ts_ms = ts_ms;
  e.image.id = s.id;
  e.image.version = s.version;
  if (s.op == Op::Create) {
    e.fields = kAllFields;
    e.image.camera_id = s.id % 16;
    e.image.data = image(s.id);
    e.image.latitude = 48.137154;
    e.image.longitude = 11.576124;
    e.image.created_at = kCreateTimestamp;
    e.image.updated_at = kCreateTimestamp;
    e.image.is_active = true;
    e.image.is_deleted = false;
    if (s.id % 2 == 0) {
      e.image.disease = "late_blight";
      e.image.percentage = 12.5;
    }
  } else if (s.op == Op::Update) {
    e.fields = kMetadataFields;
    e.image.updated_at = kUpdateTimestamp;
    e.image.is_active = s.version % 2 == 0;
    e.image.disease = "early_blight";
    e.image.percentage = static_cast<double>(s.version % 100);
  }
  return e;
}

// -------------------------------------------------------------------------------- Kafka ----

std::string devKafkaConfigPath() { return LEAFSYNC_SOURCE_DIR "/config/kafka.dev.json"; }

std::map<std::string, std::string> kafkaProperties(
    const std::string& json_path, const std::string& bootstrap,
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> props;
  if (std::filesystem::exists(json_path)) {
    props = loadKafkaProperties(json_path);
  } else {
    props = {{"auto.offset.reset", "earliest"},
             {"partition.assignment.strategy", "cooperative-sticky"},
             {"session.timeout.ms", "10000"},
             {"fetch.wait.max.ms", "100"}};
  }
  props["bootstrap.servers"] = bootstrap;
  for (const auto& [key, value] : overrides) props[key] = value;
  return props;
}

namespace {

template <typename T, void (*Destroy)(T*)>
struct Destroyer {
  void operator()(T* handle) const { Destroy(handle); }
};
// A librdkafka C handle that is destroyed with the function that belongs to it.
template <typename T, void (*Destroy)(T*)>
using Owned = std::unique_ptr<T, Destroyer<T, Destroy>>;

using Results = const rd_kafka_topic_result_t** (*)(rd_kafka_event_t*, size_t*);

// The first error in an admin answer, empty when there is none.
std::string resultError(rd_kafka_event_t* event, Results results) {
  if (!event) return "no answer from the broker within 60 s";
  if (rd_kafka_event_error(event)) return rd_kafka_event_error_string(event);
  size_t n = 0;
  const rd_kafka_topic_result_t** topics = results(event, &n);
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_topic_result_error(topics[i])) {
      return std::string(rd_kafka_topic_result_name(topics[i])) + ": " +
             rd_kafka_topic_result_error_string(topics[i]);
    }
  }
  return {};
}

}  // namespace

struct KafkaAdmin::Handles {
  Owned<rd_kafka_t, rd_kafka_destroy> rk;
  Owned<rd_kafka_queue_t, rd_kafka_queue_destroy> queue;  // declared after rk: destroyed first

  // Sends one request (`submit` gets the options to pass on) and waits for its answer.
  std::string request(rd_kafka_admin_op_t op,
                      const std::function<void(rd_kafka_AdminOptions_t*)>& submit,
                      Results results) {
    Owned<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy> options(
        rd_kafka_AdminOptions_new(rk.get(), op));
    char errstr[512];
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), 30000, errstr, sizeof errstr);
    submit(options.get());
    Owned<rd_kafka_event_t, rd_kafka_event_destroy> event(rd_kafka_queue_poll(queue.get(), 60000));
    return resultError(event.get(), results);
  }
};

KafkaAdmin::KafkaAdmin(const std::string& bootstrap)
    : bootstrap_(bootstrap), handles_(std::make_unique<Handles>()) {
  char errstr[512];
  Owned<rd_kafka_conf_t, rd_kafka_conf_destroy> conf(rd_kafka_conf_new());
  if (rd_kafka_conf_set(conf.get(), "bootstrap.servers", bootstrap.c_str(), errstr,
                        sizeof errstr) != RD_KAFKA_CONF_OK) {
    die(std::string("admin: ") + errstr);
  }
  handles_->rk.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (!handles_->rk) die(std::string("admin: ") + errstr);
  conf.release();  // rd_kafka_new owns it once it succeeds
  handles_->queue.reset(rd_kafka_queue_new(handles_->rk.get()));
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(handles_->rk.get(), 0, nullptr, &metadata, 5000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die("no Kafka broker answers at " + bootstrap + " (" + rd_kafka_err2str(err) +
        "); start one with scripts/kafka.sh start");
  }
  rd_kafka_metadata_destroy(metadata);
}

KafkaAdmin::~KafkaAdmin() = default;

void KafkaAdmin::createTopic(const std::string& name, int partitions) {
  char errstr[512];
  Owned<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy> topic(
      rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof errstr));
  if (!topic) die(std::string("create topic: ") + errstr);
  std::string error = handles_->request(
      RD_KAFKA_ADMIN_OP_CREATETOPICS,
      [&](rd_kafka_AdminOptions_t* options) {
        rd_kafka_NewTopic_t* topics[] = {topic.get()};
        rd_kafka_CreateTopics(handles_->rk.get(), topics, 1, options, handles_->queue.get());
      },
      [](rd_kafka_event_t* e, size_t* n) {
        return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(e), n);
      });
  if (!error.empty()) die("cannot create topic '" + name + "' on " + bootstrap_ + ": " + error);
  created_.push_back(name);
}

void KafkaAdmin::deleteCreatedTopics(const char* program) noexcept {
  if (created_.empty()) return;
  std::string error;
  try {
    std::vector<Owned<rd_kafka_DeleteTopic_t, rd_kafka_DeleteTopic_destroy>> owned;
    std::vector<rd_kafka_DeleteTopic_t*> topics;
    for (const auto& name : created_) {
      owned.emplace_back(rd_kafka_DeleteTopic_new(name.c_str()));
      topics.push_back(owned.back().get());
    }
    error = handles_->request(
        RD_KAFKA_ADMIN_OP_DELETETOPICS,
        [&](rd_kafka_AdminOptions_t* options) {
          rd_kafka_DeleteTopics(handles_->rk.get(), topics.data(), topics.size(), options,
                                handles_->queue.get());
        },
        [](rd_kafka_event_t* e, size_t* n) {
          return rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(e), n);
        });
    if (error.empty()) created_.clear();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) std::fprintf(stderr, "%s: deleting topics: %s\n", program, error.c_str());
}

Produced produceEvents(const std::map<std::string, std::string>& kafka, const std::string& topic,
                       const Workload& workload, const std::vector<Spec>& specs, int partitions) {
  auto props = producerProperties(kafka);
  props["enable.idempotence"] = "true";
  props["linger.ms"] = "5";
  props["client.id"] = "leafsync-bench-producer";
  auto conf = makeKafkaConf(props);
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) die("producer: " + error);

  Produced result;
  auto started = Clock::now();
  for (const Spec& spec : specs) {
    std::int64_t ts_ms = nowMillis();
    std::string value = EventCodec::encode(workload.event(spec, ts_ms));
    std::string key = EventCodec::encodeKey(spec.id);
    result.bytes += static_cast<std::int64_t>(value.size() + key.size());
    for (;;) {
      RdKafka::ErrorCode err =
          producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            value.data(), value.size(), key.data(), key.size(), ts_ms, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL) die("produce: " + RdKafka::err2str(err));
      producer->poll(50);
    }
    producer->poll(0);
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR || producer->outq_len() > 0) {
    die("produce: " + std::to_string(producer->outq_len()) + " messages not acknowledged in 120 s");
  }
  result.seconds = secondsSince(started);
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0, high = 0;  // a fresh topic: low is 0
    RdKafka::ErrorCode err = producer->query_watermark_offsets(topic, p, &low, &high, 10000);
    if (err != RdKafka::ERR_NO_ERROR) die("watermarks: " + RdKafka::err2str(err));
    result.messages += high - low;
  }
  if (result.messages != static_cast<std::int64_t>(specs.size())) {
    die("topic '" + topic + "' holds " + std::to_string(result.messages) + " messages, produced " +
        std::to_string(specs.size()));
  }
  return result;
}

// ------------------------------------------------------------------------------ leafsync ----

ConsumerConfig consumerConfig(const std::map<std::string, std::string>& kafka,
                              const std::string& topic, const std::string& client_id,
                              const std::string& database_url) {
  ConsumerConfig config;
  config.kafka = kafka;
  config.kafka["group.id"] = client_id + "-" + randomSuffix();
  config.kafka["client.id"] = client_id;
  config.dead_letter_topic = "leafsync.bench.dlq";
  config.topics = {TopicConfig{topic, Plant::Potato, EventFormat::Native}};
  config.database_url = database_url;
  config.log_level = LogLevel::Warn;
  return config;
}

// ---------------------------------------------------------------------------- timing ----

Timed waitUntilApplied(Clock::time_point started, std::int64_t expected,
                       const std::function<std::int64_t()>& applied, int poll_ms,
                       double timeout_s, const std::function<void()>& stop,
                       const std::string& what) {
  Timed t;
  while (t.events < expected) {
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    t.events = applied();
    if (t.events > 0 && t.first_s == 0) {
      t.first_s = secondsSince(started);
      t.first_events = t.events;
    }
    if (secondsSince(started) > timeout_s) {
      stop();
      die(what + ": timed out with " + std::to_string(t.events) + " of " +
          std::to_string(expected) + " events applied");
    }
  }
  t.seconds = secondsSince(started);
  return t;
}

}  // namespace leafsync::bench
