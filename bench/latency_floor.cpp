// leafsync-bench-latency-floor: the physical floor under leafsync's end-to-end latency on this
// machine, for bench/latency.sh to set beside leafsync's own figures from the same run:
//
//   kafka  a bare librdkafka produce → consume round trip on the broker leafsync uses, at a
//          steady rate: an idempotent producer (acks=all, linger.ms=0, the librdkafka
//          properties of config/kafka.dev.json), one message of an encoded create event at a
//          time, a plain KafkaConsumer assigned to the partition; per message the time from
//          produce() to consume() returning it (one process, one steady clock)
//   commit one single-row transaction in the copy's database: Store::applyBatch of one create
//          and its offset, the commit every leafsync batch ends with
//
// Prints key=value lines on stdout (milliseconds): kafka_p50 kafka_p99 kafka_p999 kafka_max
// commit_p50 commit_p99 commit_p999 commit_max, and the samples each rests on.

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "BenchSupport.h"
#include "leafsync/EventCodec.h"
#include "leafsync/KafkaConfig.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace {

using namespace leafsync;
using namespace leafsync::bench;

struct Options {
  std::string bootstrap;
  std::string copy_url;  // sqlite:PATH or postgresql://…; empty: a SQLite file in a temp dir
  double rate = 1000;
  double duration_s = 5;
  double warmup_s = 1;
  int commits = 500;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: leafsync-bench-latency-floor --bootstrap H:P [options]\n"
               "  --rate N       messages per second of the round trip (default 1000)\n"
               "  --duration S   seconds of measured round trips (default 5), after --warmup S (default 1)\n"
               "  --copy URL     the copy's database for the commit floor (default: a temp SQLite file)\n"
               "  --commits N    single-row commits timed (default 500)\n");
}

// Milliseconds at quantile q of sorted samples (nearest rank).
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return -1;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

void print(const char* name, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  std::printf("%s_samples=%zu\n%s_p50=%.3f\n%s_p99=%.3f\n%s_p999=%.3f\n%s_max=%.3f\n", name, samples.size(), name,
              quantile(samples, 0.5), name, quantile(samples, 0.99), name, quantile(samples, 0.999), name,
              samples.empty() ? -1.0 : samples.back());
}

std::vector<double> kafkaRoundTrips(const Options& o, const std::string& topic) {
  auto props = kafkaProperties(devKafkaConfigPath(), o.bootstrap);
  auto producer_props = producerProperties(props);
  producer_props["enable.idempotence"] = "true";
  producer_props["acks"] = "all";
  producer_props["linger.ms"] = "0";
  producer_props["client.id"] = "leafsync-bench-floor-producer";
  std::string error;
  auto pconf = makeKafkaConf(producer_props);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), error));
  if (!producer) die("producer: " + error);

  props["group.id"] = "leafsync-bench-floor-" + randomSuffix();
  props["client.id"] = "leafsync-bench-floor-consumer";
  props["enable.auto.commit"] = "false";
  auto cconf = makeKafkaConf(props);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cconf.get(), error));
  if (!consumer) die("consumer: " + error);
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(topic, 0, 0)};
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);

  // The payload: an encoded create (what the relay sends), its first 8 bytes replaced by the
  // send time.
  Workload workload(1024);
  std::string value = EventCodec::encode(workload.event({Op::Create, 1, 1}, nowMillis()));
  const auto total = static_cast<std::int64_t>(o.rate * (o.warmup_s + o.duration_s));
  const auto warmup = static_cast<std::int64_t>(o.rate * o.warmup_s);
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(total));
  std::int64_t received = 0;
  auto receive = [&](int timeout_ms) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(timeout_ms));
    if (m->err() != RdKafka::ERR_NO_ERROR || m->len() < sizeof(std::int64_t)) return;
    std::int64_t sent_ns = 0;
    std::memcpy(&sent_ns, m->payload(), sizeof sent_ns);
    auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    if (received++ >= warmup) samples.push_back(static_cast<double>(now_ns - sent_ns) / 1e6);
  };
  // Both clients connected (the producer's idempotence PID acquired, the consumer's fetch
  // running) before anything is timed: one message there and back.
  while (producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(), nullptr, 0, 0,
                           nullptr) == RdKafka::ERR__QUEUE_FULL) {
    producer->poll(10);
  }
  if (producer->flush(30000) != RdKafka::ERR_NO_ERROR) die("round trip: the first message was not acknowledged");
  for (auto until = Clock::now() + std::chrono::seconds(30);;) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) break;
    if (Clock::now() > until) die("round trip: the first message did not come back");
  }
  // The producer on a thread of its own at the steady rate; this thread consumes.
  std::thread sender([&] {
    auto interval = std::chrono::duration<double>(1.0 / o.rate);
    auto started = Clock::now();
    for (std::int64_t i = 0; i < total; ++i) {
      std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(interval * i));
      std::string payload = value;
      auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      std::memcpy(payload.data(), &now_ns, sizeof now_ns);
      while (producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, payload.data(), payload.size(), nullptr,
                               0, 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(10);
      }
      producer->poll(0);
    }
    producer->flush(30000);
  });
  auto deadline = Clock::now() + std::chrono::duration<double>(o.warmup_s + o.duration_s + 30);
  while (received < total && Clock::now() < deadline) receive(100);
  sender.join();
  consumer->close();
  if (received < total) die("round trip: " + std::to_string(received) + " of " + std::to_string(total) + " messages came back");
  return samples;
}

std::vector<double> singleRowCommits(const Options& o, const std::string& scratch_dir) {
  std::string url = o.copy_url.empty() ? "sqlite:" + scratch_dir + "/floor.sqlite" : o.copy_url;
  std::unique_ptr<Store> store = openStore(url);
  Workload workload(1024);
  const std::string topic = "leafsync.bench.floor." + randomSuffix();
  std::vector<double> samples;
  // Ids far above any real row's, so a shared copy is not disturbed beyond these rows.
  const std::int64_t base = 900000000000 + static_cast<std::int64_t>(nowMillis() % 1000000) * 1000;
  for (int i = 0; i < o.commits + 20; ++i) {
    std::vector<ChangeEvent> events{workload.event({Op::Create, base + i, 1}, nowMillis())};
    auto started = Clock::now();
    store->applyBatch(events, {{topic, 0, i + 1}});
    if (i >= 20) samples.push_back(secondsSince(started) * 1000);
  }
  return samples;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage(stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--bootstrap") o.bootstrap = value();
    else if (a == "--copy") o.copy_url = value();
    else if (a == "--rate") o.rate = std::stod(value());
    else if (a == "--duration") o.duration_s = std::stod(value());
    else if (a == "--warmup") o.warmup_s = std::stod(value());
    else if (a == "--commits") o.commits = std::stoi(value());
    else if (a == "-h" || a == "--help") { usage(stdout); return 0; }
    else { usage(stderr); return 2; }
  }
  if (o.bootstrap.empty() || o.rate <= 0 || o.duration_s <= 0) {
    usage(stderr);
    return 2;
  }
  std::string scratch = (std::filesystem::temp_directory_path() / ("leafsync-floor-" + randomSuffix())).string();
  std::filesystem::create_directories(scratch);
  int rc = 0;
  try {
    KafkaAdmin admin(o.bootstrap);
    const std::string topic = "leafsync.bench.floor." + randomSuffix();
    admin.createTopic(topic, 1);
    try {
      print("kafka", kafkaRoundTrips(o, topic));
    } catch (...) {
      admin.deleteCreatedTopics("leafsync-bench-latency-floor");
      throw;
    }
    admin.deleteCreatedTopics("leafsync-bench-latency-floor");
    print("commit", singleRowCommits(o, scratch));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leafsync-bench-latency-floor: %s\n", e.what());
    rc = 1;
  }
  std::filesystem::remove_all(scratch);
  return rc;
}
