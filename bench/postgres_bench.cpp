// leafsync-bench-postgres: the consumer's end-to-end apply rate into PostgreSQL against the raw
// rate of PostgresStore::applyBatch, measured in the same run, for ~1 KiB and ~20 KiB images:
//   ceiling    PostgresStore::applyBatch alone on one connection: 1,000-event batches of creates
//              with their offsets, time inside applyBatch only (batches built untimed)
//   ceiling xP the same on P connections at once, each applying one partition's share (ids
//              by partition, as the consumer's partition appliers do), wall time of the slowest
//   serial     one real GroupConsumer on a topic of 1 partition: one applier, one connection
//   x1         one real GroupConsumer (PostgresStore, KafkaDeadLetterProducer, fresh group) on
//              the P-partition topic: P appliers in parallel, until the offsets stored in the
//              copy sum to N, timed from start()
//   x3         three GroupConsumers in one group on that topic (as three processes would)
// Each measurement gets a fresh scratch database (CREATE DATABASE on --postgres-url, DROP ...
// WITH (FORCE) after); topics are deleted afterwards. One table on stdout, progress on stderr.

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "BenchSupport.h"
#include "KafkaDeadLetterProducer.h"
#include "SyncStatus.h"
#include "GroupConsumer.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/Log.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/Timestamp.h"

namespace {

using namespace leafsync;
using namespace leafsync::bench;

struct Options {
  std::string postgres_url;
  std::string bootstrap = "127.0.0.1:9092";
  std::string kafka_config = devKafkaConfigPath();
  std::int64_t events_small = 200000;  // ~1 KiB images
  std::int64_t events_large = 20000;   // ~20 KiB images
  int partitions = 3;
  double timeout_s = 60;
};

Options parseOptions(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("LEAFSYNC_TEST_POSTGRES_URL"); env && *env) o.postgres_url = env;
  if (const char* env = std::getenv("LEAFSYNC_BOOTSTRAP_SERVERS"); env && *env) o.bootstrap = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: leafsync-bench-postgres [--postgres-url URL (default $LEAFSYNC_TEST_POSTGRES_URL)]\n"
                  "  [--bootstrap H:P (default $LEAFSYNC_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)]\n"
                  "  [--kafka-config PATH] [--events N (1 KiB, default 200000)] [--events-large N (20 KiB,\n"
                  "  default 20000)] [--partitions P (default 3)] [--timeout S per measurement (default 60)]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) die(arg + " needs a value (or unknown option)");
    std::string v = argv[++i];
    if (arg == "--postgres-url") o.postgres_url = v;
    else if (arg == "--bootstrap") o.bootstrap = v;
    else if (arg == "--kafka-config") o.kafka_config = v;
    else if (arg == "--events") o.events_small = std::stoll(v);
    else if (arg == "--events-large") o.events_large = std::stoll(v);
    else if (arg == "--partitions") o.partitions = std::stoi(v);
    else if (arg == "--timeout") o.timeout_s = std::stod(v);
    else die("unknown option '" + arg + "'");
  }
  if (o.postgres_url.empty()) die("no PostgreSQL: pass --postgres-url or set LEAFSYNC_TEST_POSTGRES_URL");
  if (o.events_small < 1000 || o.events_large < 1000) die("--events and --events-large must be >= 1000");
  return o;
}

// A fresh database beside the admin URL's, dropped WITH (FORCE) when it goes.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(PostgresConnection& admin)
      : admin_(admin), name_("leafsync_bench_" + randomSuffix()) {
    admin_.ensureOpen();
    admin_.exec("CREATE DATABASE " + admin_.escapeIdentifier(name_));
    url_ = postgresUrlWithDatabase(admin_.url(), name_);
  }
  ~ScratchDatabase() {
    try {
      admin_.ensureOpen();
      admin_.exec("DROP DATABASE IF EXISTS " + admin_.escapeIdentifier(name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "leafsync-bench-postgres: dropping %s: %s\n", name_.c_str(), e.what());
    }
  }
  const std::string& url() const { return url_; }

 private:
  PostgresConnection& admin_;
  std::string name_;
  std::string url_;
};

// Seconds for `creates` in 1,000-event batches through applyBatch on `connections`
// connections at once, connection c applying the ids of partition c (id % connections) with
// that partition's offset, as the consumer's partition appliers do. Batches are built untimed;
// the time is the wall time until the slowest connection is done.
double postgresCeiling(PostgresConnection& admin, const Workload& w, const std::vector<Spec>& creates,
                       int connections) {
  ScratchDatabase db(admin);
  std::vector<std::unique_ptr<PostgresStore>> stores;
  for (int c = 0; c < connections; ++c) stores.push_back(std::make_unique<PostgresStore>(db.url()));
  constexpr std::size_t kBatch = 1000;
  std::vector<std::vector<std::vector<ChangeEvent>>> batches(static_cast<std::size_t>(connections));
  const std::int64_t ts_ms = nowMillis();
  for (const Spec& s : creates) {
    auto& mine = batches[static_cast<std::size_t>(s.id % connections)];
    if (mine.empty() || mine.back().size() == kBatch) mine.emplace_back();
    mine.back().push_back(w.event(s, ts_ms));
  }
  settleDisk();
  std::vector<std::string> errors(static_cast<std::size_t>(connections));
  std::vector<std::thread> threads;
  auto started = Clock::now();
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      std::int64_t next = 0;
      try {
        for (const auto& batch : batches[static_cast<std::size_t>(c)]) {
          next += static_cast<std::int64_t>(batch.size());
          ApplyCounts counts = stores[static_cast<std::size_t>(c)]->applyBatch(batch, {{"ceiling", c, next}});
          if (counts.appliedTotal() != static_cast<std::int64_t>(batch.size())) throw std::runtime_error("a create was not applied");
        }
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(c)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = secondsSince(started);
  for (const std::string& e : errors) {
    if (!e.empty()) die("ceiling: " + e);
  }
  if (stores[0]->count(Plant::Potato) != static_cast<std::int64_t>(creates.size())) {
    die("ceiling: row count mismatch");
  }
  return seconds;
}

// `consumers` GroupConsumers in one fresh group, each with its own PostgresStore on one fresh
// scratch database, until the offsets stored there sum to n (a fresh topic starts at 0).
Timed endToEnd(const Options& o, PostgresConnection& admin, const std::map<std::string, std::string>& kafka,
               const std::string& topic, std::int64_t n, int consumers) {
  ScratchDatabase db(admin);
  // Must outlive the consumers: they keep a reference.
  const ConsumerConfig config = consumerConfig(kafka, topic, "leafsync-bench-pg", db.url());

  PostgresStore monitor(db.url());  // creates the schema before the consumers start
  std::vector<std::unique_ptr<ConsumerMetrics>> metrics;
  std::vector<std::unique_ptr<SyncStatus>> statuses;
  ConnectionPool<Store> copy([&db] { return std::make_unique<PostgresStore>(db.url()); }, 16);
  std::vector<std::unique_ptr<KafkaDeadLetterProducer>> dead_letters;  // outlives the consumers
  std::vector<std::unique_ptr<GroupConsumer>> running;
  for (int i = 0; i < consumers; ++i) {
    dead_letters.push_back(std::make_unique<KafkaDeadLetterProducer>(config.kafka, config.dead_letter_topic));
    metrics.push_back(std::make_unique<ConsumerMetrics>(std::vector<std::string>{topic}));
    statuses.push_back(std::make_unique<SyncStatus>());
    running.push_back(std::make_unique<GroupConsumer>(
        config, copy, *dead_letters.back(), *metrics.back(), *statuses.back(),
        [](const std::string& reason) {
          std::cerr << "fatal: " << reason << "\n";
          std::abort();
        }));
  }
  auto stopAll = [&] { for (auto& c : running) c->requestStop(); for (auto& c : running) c->join(); };
  auto applied = [&] {
    std::int64_t sum = 0;
    for (const PartitionOffset& off : monitor.offsets()) sum += off.topic == topic ? off.next_offset : 0;
    return sum;
  };
  settleDisk();
  auto started = Clock::now();
  for (auto& c : running) c->start();
  Timed t = waitUntilApplied(started, n, applied, 5, o.timeout_s, stopAll,
                             "end to end x" + std::to_string(consumers));
  stopAll();
  if (std::int64_t rows = monitor.count(Plant::Potato); rows != n) {
    die("end to end: the copy holds " + std::to_string(rows) + " rows, expected " + std::to_string(n));
  }
  return t;
}

struct Row { std::string name; std::int64_t events; double seconds, rate, ratio, parallel_ratio, first_s, steady, steady_ratio; };

}  // namespace

int main(int argc, char** argv) {
  std::vector<Row> rows;
  std::unique_ptr<KafkaAdmin> topics;
  auto deleteTopics = [&] {
    if (topics) topics->deleteCreatedTopics("leafsync-bench-postgres");
  };
  Options o;
  const double load_before = loadAverage();
  try {
    o = parseOptions(argc, argv);
    setLogLevel(LogLevel::Warn);
    const auto kafka = kafkaProperties(o.kafka_config, o.bootstrap);
    PostgresConnection admin(o.postgres_url);
    admin.ensureOpen();
    topics = std::make_unique<KafkaAdmin>(o.bootstrap);

    for (auto [image_bytes, n] : {std::pair<std::size_t, std::int64_t>{1024, o.events_small},
                                  std::pair<std::size_t, std::int64_t>{20 * 1024, o.events_large}}) {
      const std::string size = std::to_string(image_bytes / 1024) + " KiB";
      Workload w(image_bytes);
      const std::vector<Spec> creates = Workload::creates(n);
      std::fprintf(stderr, "[%s] postgres applyBatch ceiling, %" PRId64 " creates, 1 and %d connections...\n",
                   size.c_str(), n, o.partitions);
      double ceiling = static_cast<double>(n) / postgresCeiling(admin, w, creates, 1);
      double parallel = static_cast<double>(n) / postgresCeiling(admin, w, creates, o.partitions);
      auto row = [&](const std::string& name, double seconds, double first_s, std::int64_t first_events) {
        double rate = static_cast<double>(n) / seconds;
        double steady = first_s > 0 ? static_cast<double>(n - first_events) / (seconds - first_s) : rate;
        rows.push_back({size + ": " + name, n, seconds, rate, rate / ceiling, rate / parallel, first_s, steady,
                        steady / parallel});
      };
      row("PostgresStore::applyBatch (ceiling)", static_cast<double>(n) / ceiling, 0, 0);
      row("  same, " + std::to_string(o.partitions) + " connections (ceiling xP)", static_cast<double>(n) / parallel, 0, 0);

      for (int partitions : {1, o.partitions}) {
        std::string topic = "leafsync-bench-pg-" + std::to_string(image_bytes / 1024) + "k-" + randomSuffix();
        std::fprintf(stderr, "[%s] producing %" PRId64 " events to %s (%d partitions)...\n", size.c_str(), n,
                     topic.c_str(), partitions);
        topics->createTopic(topic, partitions);
        produceEvents(kafka, topic, w, creates, partitions);
        for (int consumers : partitions == 1 ? std::vector<int>{1} : std::vector<int>{1, 3}) {
          std::fprintf(stderr, "[%s] leafsync end to end, %d partition(s), %d consumer(s)...\n", size.c_str(),
                       partitions, consumers);
          Timed t = endToEnd(o, admin, kafka, topic, n, consumers);
          std::string name = partitions == 1 ? "leafsync kafka->postgres, 1 partition (serial)"
                                             : "leafsync kafka->postgres x" + std::to_string(consumers);
          row(name, t.seconds, t.first_s, t.first_events);
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leafsync-bench-postgres: %s\n", e.what());
    deleteTopics();
    return 1;
  }
  deleteTopics();
  const double load_after = loadAverage();

  std::printf("leafsync-bench-postgres: %d partitions, ceiling batches of 1000, consumer batch_size %d"
              " linger_ms %d, %u cpus\n\n",
              o.partitions, ConsumerConfig{}.batch_size, ConsumerConfig{}.linger_ms,
              std::thread::hardware_concurrency());
  std::printf("%-52s %7s %7s %8s %8s %8s %7s %9s %9s\n", "measurement", "events", "seconds", "rate/s",
              "vs ceil", "vs ceilP", "1st s", "steady/s", "steady vs");
  for (const Row& r : rows) {
    std::printf("%-52s %7" PRId64 " %7.2f %8.0f %8.2f %8.2f %7.2f %9.0f %9.2f\n", r.name.c_str(), r.events,
                r.seconds, r.rate, r.ratio, r.parallel_ratio, r.first_s, r.steady, r.steady_ratio);
  }
  std::printf("\nnote: vs ceil = against one connection's applyBatch rate, vs ceilP = against %d connections"
              " applying a partition each (the most parallel apply can reach); same image size. End to"
              " end is timed from start() (group join and first fetch included); steady = from the"
              " first batch seen in the copy, against ceiling xP\n",
              o.partitions);
  std::printf("note: load average %.2f before, %.2f after\n", load_before, load_after);
  return 0;
}
