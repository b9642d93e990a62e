// leafsync-bench-apply: how fast the consumer turns Kafka events into rows of the copy, against
// the two ceilings it sits between, all measured in the same run on the same machine:
//
//   A  raw SQLite: a fresh file made by SqliteStore (its schema, WAL, synchronous=NORMAL), the
//      store's own upsert prepared on a bare connection, 1,000-row transactions, rows in id
//      order; then again with the rows in the order Kafka delivers them (ids of 3 partitions
//      interleaved), which is what any consumer of a partitioned topic has to write
//   B  raw librdkafka: a plain KafkaConsumer assigned to every partition from the beginning,
//      counting messages, over a fresh topic of EventCodec-encoded events
//   E  leafsync: a real GroupConsumer (an applier thread and SqliteStore connection per
//      partition, their batches group-committed, KafkaDeadLetterProducer, fresh group) reading
//      that topic from the beginning until the offsets stored in the copy cover every event,
//      timed from start(); also the time its appliers spent inside Store::applyBatch and the
//      SQLite transactions their batches took
//
// Then the same three for a realistic mix (60 % creates, 35 % metadata-only updates, 5 %
// deletes). Prints one table on stdout; progress and the consumer's logs (warn level) go to
// stderr. Each timed phase starts after sync(), so none pays for another's writeback.

#include <librdkafka/rdkafkacpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
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
#include "leafsync/SqliteStore.h"
#include "leafsync/Timestamp.h"

namespace {

using namespace leafsync;
using namespace leafsync::bench;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ options ----

struct Options {
  std::int64_t events = 200000;
  std::size_t image_bytes = 1024;
  std::string bootstrap;
  std::string work_dir;  // empty: a fresh temp dir, removed afterwards
  std::string kafka_config = devKafkaConfigPath();
  int partitions = 3;
  int batch_size = -1;  // -1: ConsumerConfig's default
  int linger_ms = -1;
  bool mix = true;
  bool keep_topics = false;
  double timeout_s = 120;
  double require_ratio = 0;  // exit 3 when the end-to-end / ceiling-A ratio is below this
  std::vector<std::pair<std::string, std::string>> kafka_set;  // --kafka-set overrides
  std::string watch = "store";  // how the end of a leafsync run is seen: "store" or "status"
  int poll_ms = 5;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: leafsync-bench-apply [options]\n"
               "  --events N           events per measurement (default 200000)\n"
               "  --image-bytes B      raw image bytes per create (default 1024)\n"
               "  --bootstrap H:P      Kafka bootstrap servers (default $LEAFSYNC_BOOTSTRAP_SERVERS,\n"
               "                       else 127.0.0.1:9092)\n"
               "  --work-dir DIR       where the SQLite files go, kept afterwards (default: a temp dir,\n"
               "                       removed afterwards)\n"
               "  --kafka-config PATH  librdkafka properties JSON (default config/kafka.dev.json)\n"
               "  --kafka-set K=V      override one librdkafka property (repeatable)\n"
               "  --partitions P       partitions of the bench topics (default 3)\n"
               "  --batch-size N       consumer apply.batch_size (default: the config default)\n"
               "  --linger-ms N        consumer apply.linger_ms (default: the config default)\n"
               "  --no-mix             skip the realistic-mix measurements\n"
               "  --keep-topics        do not delete the bench topics afterwards\n"
               "  --timeout S          give up on a measurement after S seconds (default 120)\n"
               "  --require-ratio R    exit 3 if end-to-end / sqlite-ceiling < R (e.g. 0.5)\n"
               "  --watch store|status how the bench sees events applied: the offsets committed in\n"
               "                       the copy, read on a second connection (default), or the\n"
               "                       consumer's in-memory sync status\n"
               "  --poll-ms N          how often it looks (default 5)\n");
}

Options parseOptions(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("LEAFSYNC_BOOTSTRAP_SERVERS"); env && *env) o.bootstrap = env;
  if (o.bootstrap.empty()) o.bootstrap = "127.0.0.1:9092";
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) {
      usage(stderr);
      die(std::string(argv[i]) + " needs a value");
    }
    return argv[++i];
  };
  auto number = [&](int& i, double min, double max) {
    std::string flag = argv[i];
    std::string text = value(i);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || v < min || v > max) {
      die(flag + " must be a number in [" + std::to_string(min) + ", " + std::to_string(max) +
          "], got '" + text + "'");
    }
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--events") {
      o.events = static_cast<std::int64_t>(number(i, 1000, 1e9));
    } else if (arg == "--image-bytes") {
      o.image_bytes = static_cast<std::size_t>(number(i, 1, 4 << 20));
    } else if (arg == "--bootstrap") {
      o.bootstrap = value(i);
    } else if (arg == "--work-dir") {
      o.work_dir = value(i);
    } else if (arg == "--kafka-config") {
      o.kafka_config = value(i);
    } else if (arg == "--partitions") {
      o.partitions = static_cast<int>(number(i, 1, 64));
    } else if (arg == "--batch-size") {
      o.batch_size = static_cast<int>(number(i, 1, 1000000));
    } else if (arg == "--linger-ms") {
      o.linger_ms = static_cast<int>(number(i, 0, 60000));
    } else if (arg == "--no-mix") {
      o.mix = false;
    } else if (arg == "--keep-topics") {
      o.keep_topics = true;
    } else if (arg == "--timeout") {
      o.timeout_s = number(i, 1, 3600);
    } else if (arg == "--require-ratio") {
      o.require_ratio = number(i, 0, 100);
    } else if (arg == "--kafka-set") {
      std::string kv = value(i);
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) die("--kafka-set needs KEY=VALUE, got '" + kv + "'");
      o.kafka_set.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (arg == "--watch") {
      o.watch = value(i);
      if (o.watch != "store" && o.watch != "status") die("--watch must be 'store' or 'status'");
    } else if (arg == "--poll-ms") {
      o.poll_ms = static_cast<int>(number(i, 1, 1000));
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      usage(stderr);
      die("unknown option '" + arg + "'");
    }
  }
  return o;
}

// ------------------------------------------------------------------- ceiling A: SQLite ----

void sqliteExec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    die(std::string("sqlite: ") + sql + ": " + message);
  }
}

sqlite3_stmt* sqlitePrepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    die(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
  return stmt;
}

void sqliteStep(sqlite3* db, sqlite3_stmt* stmt) {
  if (sqlite3_step(stmt) != SQLITE_DONE) die(std::string("sqlite step: ") + sqlite3_errmsg(db));
  sqlite3_reset(stmt);
}

// The store's table and its three write statements (copied from SqliteStore.cpp: keep them in
// step), bound straight from the workload: no codec, no Kafka, no metrics, no offsets.
// Returns the seconds the writes took.
double sqliteCeiling(const std::string& path, const Workload& workload,
                     const std::vector<Spec>& specs, int batch_size) {
  // The store creates the file: its own schema and whatever it makes persistent (WAL, page
  // size). The writes below then go through a bare connection with the store's pragmas.
  { SqliteStore schema(path); }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    die("cannot open " + path);
  }
  sqlite3_busy_timeout(db, 10000);
  sqliteExec(db, "PRAGMA journal_mode=WAL");
  sqliteExec(db, "PRAGMA synchronous=NORMAL");
  sqlite3_stmt* begin = sqlitePrepare(db, "BEGIN IMMEDIATE");
  sqlite3_stmt* commit = sqlitePrepare(db, "COMMIT");
  // The store's own statements (a partial update applies only at version - 1, as the
  // consumer's native updates do), so this ceiling measures what SqliteStore executes.
  const SqliteApplySql sql = sqliteApplySql(Plant::Potato);
  sqlite3_stmt* upsert = sqlitePrepare(db, sql.upsert.c_str());
  sqlite3_stmt* update = sqlitePrepare(db, sql.update.c_str());
  sqlite3_stmt* remove = sqlitePrepare(db, sql.remove.c_str());

  const std::int64_t ts_ms = nowMillis();
  settleDisk();
  auto started = Clock::now();
  std::size_t i = 0;
  while (i < specs.size()) {
    std::size_t end = std::min(specs.size(), i + static_cast<std::size_t>(batch_size));
    const std::int64_t applied_ms = nowMillis();
    sqliteStep(db, begin);
    for (; i < end; ++i) {
      const Spec& s = specs[i];
      switch (s.op) {
        case Op::Create:
        case Op::Snapshot: {
          const std::string& data = workload.image(s.id);
          bool has_disease = s.id % 2 == 0;
          sqlite3_bind_int64(upsert, 1, s.id);
          sqlite3_bind_int64(upsert, 2, s.id % 16);
          sqlite3_bind_blob(upsert, 3, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
          sqlite3_bind_double(upsert, 4, 48.137154);
          sqlite3_bind_double(upsert, 5, 11.576124);
          sqlite3_bind_text(upsert, 6, kCreateTimestamp, -1, SQLITE_STATIC);
          sqlite3_bind_text(upsert, 7, kCreateTimestamp, -1, SQLITE_STATIC);
          sqlite3_bind_int64(upsert, 8, 1);
          sqlite3_bind_int64(upsert, 9, 0);
          if (has_disease) {
            sqlite3_bind_text(upsert, 10, "late_blight", -1, SQLITE_STATIC);
            sqlite3_bind_double(upsert, 11, 12.5);
          } else {
            sqlite3_bind_null(upsert, 10);
            sqlite3_bind_null(upsert, 11);
          }
          sqlite3_bind_int64(upsert, 12, s.version);
          sqlite3_bind_int64(upsert, 13, ts_ms);
          sqlite3_bind_int64(upsert, 14, applied_ms);
          sqliteStep(db, upsert);
          break;
        }
        case Op::Update:
          sqlite3_bind_int64(update, 1, kMetadataFields);
          sqlite3_bind_int64(update, 2, 0);
          sqlite3_bind_blob(update, 3, "", 0, SQLITE_STATIC);
          sqlite3_bind_double(update, 4, 0);
          sqlite3_bind_double(update, 5, 0);
          sqlite3_bind_text(update, 6, "", 0, SQLITE_STATIC);
          sqlite3_bind_text(update, 7, kUpdateTimestamp, -1, SQLITE_STATIC);
          sqlite3_bind_int64(update, 8, s.version % 2 == 0);
          sqlite3_bind_int64(update, 9, 0);
          sqlite3_bind_text(update, 10, "early_blight", -1, SQLITE_STATIC);
          sqlite3_bind_double(update, 11, static_cast<double>(s.version % 100));
          sqlite3_bind_int64(update, 12, s.version);
          sqlite3_bind_int64(update, 13, ts_ms);
          sqlite3_bind_int64(update, 14, applied_ms);
          sqlite3_bind_int64(update, 15, s.id);
          sqlite3_bind_int64(update, 16, 1);
          sqliteStep(db, update);
          break;
        case Op::Delete:
          sqlite3_bind_int64(remove, 1, s.id);
          sqlite3_bind_int64(remove, 2, s.version);
          sqlite3_bind_int64(remove, 3, ts_ms);
          sqlite3_bind_int64(remove, 4, applied_ms);
          sqliteStep(db, remove);
          break;
      }
      if (sqlite3_changes(db) != 1) die("sqlite ceiling: event " + std::to_string(i) + " changed no row");
    }
    sqliteStep(db, commit);
  }
  double seconds = secondsSince(started);
  for (sqlite3_stmt* s : {begin, commit, upsert, update, remove}) sqlite3_finalize(s);
  sqlite3_close_v2(db);
  return seconds;
}

// The same events in the order a consumer receives them: Kafka keeps each id's changes in
// order within its partition, so the n-th arrival of an id is that id's n-th event.
std::vector<Spec> inArrivalOrder(const std::vector<Spec>& specs, const std::vector<std::int64_t>& ids) {
  std::int64_t max_id = 0;
  for (const Spec& s : specs) max_id = std::max(max_id, s.id);
  std::vector<std::vector<std::size_t>> by_id(static_cast<std::size_t>(max_id) + 1);
  for (std::size_t i = specs.size(); i-- > 0;) by_id[static_cast<std::size_t>(specs[i].id)].push_back(i);
  std::vector<Spec> ordered;
  ordered.reserve(specs.size());
  for (std::int64_t id : ids) {
    if (id < 1 || id > max_id || by_id[static_cast<std::size_t>(id)].empty()) {
      die("arrival order: unexpected key " + std::to_string(id));
    }
    auto& pending = by_id[static_cast<std::size_t>(id)];
    ordered.push_back(specs[pending.back()]);
    pending.pop_back();
  }
  return ordered;
}

// ---------------------------------------------------------------------------- Kafka ----

// Ceiling B: a plain KafkaConsumer, every partition assigned from the beginning, counting.
// Records the keys (image ids) in the order they arrive, so the SQLite ceiling can be re-run
// in the order a consumer sees the rows.
Timed kafkaCeiling(const std::map<std::string, std::string>& kafka, const std::string& topic,
                   int partitions, std::int64_t expected, double timeout_s,
                   std::vector<std::int64_t>& arrival_ids) {
  arrival_ids.clear();
  arrival_ids.reserve(static_cast<std::size_t>(expected));
  auto props = kafka;
  props["group.id"] = "leafsync-bench-raw-" + randomSuffix();
  props["client.id"] = "leafsync-bench-raw";
  props["enable.auto.commit"] = "false";
  props["enable.partition.eof"] = "false";
  auto conf = makeKafkaConf(props);
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) die("raw consumer: " + error);

  // Connected and with the topic's metadata before the clock starts, like a running consumer.
  {
    std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
    RdKafka::Metadata* metadata = nullptr;
    if (consumer->metadata(false, handle.get(), &metadata, 10000) != RdKafka::ERR_NO_ERROR) {
      die("raw consumer: no metadata for '" + topic + "'");
    }
    delete metadata;
  }
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int p = 0; p < partitions; ++p) {
    assignment.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  Timed t;
  std::int64_t bytes = 0;
  settleDisk();
  auto started = Clock::now();
  if (consumer->assign(assignment) != RdKafka::ERR_NO_ERROR) die("raw consumer: assign failed");
  RdKafka::TopicPartition::destroy(assignment);
  while (t.events < expected) {
    if (secondsSince(started) > timeout_s) die("raw consumer: timed out after " + std::to_string(t.events) + " messages");
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      if (t.events == 0) t.first_s = secondsSince(started);
      ++t.events;
      bytes += static_cast<std::int64_t>(m->len() + m->key_len());
      std::int64_t id = 0;
      const char* key = static_cast<const char*>(m->key_pointer());
      if (key) std::from_chars(key, key + m->key_len(), id);
      arrival_ids.push_back(id);
    } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
      die("raw consumer: " + m->errstr());
    }
  }
  t.seconds = secondsSince(started);
  consumer->close();
  return t;
}

// -------------------------------------------------------------------------- leafsync ----

// The real pipeline: one GroupConsumer (an applier and a connection per partition) on its own
// SqliteStore file and a real dead-letter
// producer, a fresh group. Done when the offsets stored in the copy cover every message
// (offsets start at 0 in a fresh topic, so their sum is the number of messages applied).
Timed leafsyncEndToEnd(const Options& o, const std::map<std::string, std::string>& kafka,
                       const std::string& topic, const std::string& db_path,
                       std::int64_t expected_messages, std::int64_t expected_rows,
                       std::uint64_t& transactions) {
  ConsumerConfig config = consumerConfig(kafka, topic, "leafsync-bench", "sqlite:" + db_path);
  if (o.batch_size > 0) config.batch_size = o.batch_size;
  if (o.linger_ms >= 0) config.linger_ms = o.linger_ms;

  ConsumerMetrics metrics({topic});
  SyncStatus status;
  ConnectionPool<Store> copy([&db_path] { return std::make_unique<SqliteStore>(db_path); }, 16);
  KafkaDeadLetterProducer dead_letters(config.kafka, config.dead_letter_topic);
  auto consumer = std::make_unique<GroupConsumer>(config, copy, dead_letters, metrics, status,
                                                  [](const std::string& reason) {
          std::cerr << "fatal: " << reason << "\n";
          std::abort();
        });
  SqliteStore monitor(db_path);  // a second connection: WAL lets it read beside the writer
  const bool watch_store = o.watch == "store";

  auto applied = [&] {
    std::int64_t sum = 0;
    if (watch_store) {
      for (const PartitionOffset& offset : monitor.offsets()) {
        if (offset.topic == topic) sum += offset.next_offset;
      }
    } else {
      for (const PartitionStatus& p : status.partitions()) {
        if (p.topic == topic && p.next_offset > 0) sum += p.next_offset;
      }
    }
    return sum;
  };
  auto stop = [&] {
    consumer->requestStop();
    consumer->join();
  };

  settleDisk();
  auto started = Clock::now();
  consumer->start();
  Timed t = waitUntilApplied(started, expected_messages, applied, o.poll_ms, o.timeout_s, stop,
                             "leafsync end-to-end");
  stop();
  consumer.reset();
  // Where the consumer thread spent its time: the store's transactions, from its own histogram.
  prometheus::ClientMetric apply = metrics.apply_batch_seconds.Collect();
  t.apply_s = apply.histogram.sample_sum;
  t.batches = static_cast<std::int64_t>(apply.histogram.sample_count);
  // The partitions' batches commit together (SqliteGroupCommit): fewer transactions than batches.
  transactions = monitor.groupTransactions();

  std::int64_t rows = monitor.count(Plant::Potato);
  if (rows != expected_rows) {
    die("leafsync end-to-end: the copy holds " + std::to_string(rows) + " live rows, expected " +
        std::to_string(expected_rows));
  }
  return t;
}

// ---------------------------------------------------------------------------- report ----

struct Row {
  std::string name;
  std::int64_t events;
  double seconds;
  double rate;
  std::optional<double> vs_sqlite;
  std::optional<double> vs_kafka;
};

void printTable(const std::vector<Row>& rows) {
  std::printf("%-40s %9s %8s %10s %17s %16s\n", "measurement", "events", "seconds", "rate/s",
              "vs sqlite-ceiling", "vs kafka-ceiling");
  for (const Row& r : rows) {
    char sqlite_ratio[32] = "";
    char kafka_ratio[32] = "";
    if (r.vs_sqlite) std::snprintf(sqlite_ratio, sizeof sqlite_ratio, "%.2f", *r.vs_sqlite);
    if (r.vs_kafka) std::snprintf(kafka_ratio, sizeof kafka_ratio, "%.2f", *r.vs_kafka);
    std::printf("%-40s %9" PRId64 " %8.2f %10.0f %17s %16s\n", r.name.c_str(), r.events, r.seconds,
                r.rate, sqlite_ratio, kafka_ratio);
  }
}

class WorkDir {
 public:
  explicit WorkDir(const std::string& requested) {
    if (!requested.empty()) {
      fs::create_directories(requested);
      path_ = requested;
      return;
    }
    std::string pattern = (fs::temp_directory_path() / "leafsync-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) die("cannot create a temp dir: " + std::string(std::strerror(errno)));
    path_ = pattern;
    remove_ = true;
  }
  ~WorkDir() {
    std::error_code ec;
    if (remove_) fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const {
    std::string path = path_ + "/" + name;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, ec);  // fresh
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool remove_ = false;
};

// One workload through all three: the SQLite ceiling in source order and in the order Kafka
// delivers it, the raw consumer, and leafsync. Appends its rows and notes.
struct Context {
  const Options& o;
  const WorkDir& dir;
  const std::map<std::string, std::string>& kafka;
  KafkaAdmin& admin;
  const Workload& workload;
  int sqlite_batch;
  std::vector<Row>& rows;
  std::vector<std::string>& notes;
};

struct Ratios {
  double vs_a = 0;          // leafsync end to end / ceiling A
  double vs_a_arrival = 0;  // leafsync end to end / ceiling A in Kafka arrival order
  double vs_b = 0;
};

Ratios measure(Context& c, const std::string& name, const std::vector<Spec>& specs, bool detailed) {
  const Options& o = c.o;
  const std::string p = name.empty() ? "" : name + ": ";
  const std::string tag = name.empty() ? "" : name + " ";
  const auto n = static_cast<std::int64_t>(specs.size());
  const std::int64_t live = Workload::liveRows(specs);
  std::string file = "ceiling" + (name.empty() ? std::string() : "-" + name);

  std::fprintf(stderr, "[%s1/5] sqlite ceiling, source order...\n", tag.c_str());
  double a_s = sqliteCeiling(c.dir.file(file + ".sqlite"), c.workload, specs, c.sqlite_batch);
  double a = static_cast<double>(n) / a_s;

  std::string topic = "leafsync-bench-" + (name.empty() ? std::string() : name + "-") + randomSuffix();
  std::fprintf(stderr, "[%s2/5] producing %" PRId64 " events to %s...\n", tag.c_str(), n, topic.c_str());
  c.admin.createTopic(topic, o.partitions);
  Produced produced = produceEvents(c.kafka, topic, c.workload, specs, o.partitions);

  std::fprintf(stderr, "[%s3/5] librdkafka consume ceiling...\n", tag.c_str());
  std::vector<std::int64_t> arrival;
  Timed b_all = kafkaCeiling(c.kafka, topic, o.partitions, produced.messages, o.timeout_s, arrival);
  // The ceiling is the consume rate once messages flow: a fresh consumer's first fetch waits
  // for metadata and offsets (reported in the notes).
  double b_s = b_all.seconds - b_all.first_s;
  double b = static_cast<double>(b_all.events) / b_s;

  std::fprintf(stderr, "[%s4/5] sqlite ceiling, Kafka arrival order...\n", tag.c_str());
  double a2_s = sqliteCeiling(c.dir.file(file + "-arrival.sqlite"), c.workload,
                              inArrivalOrder(specs, arrival), c.sqlite_batch);
  double a2 = static_cast<double>(n) / a2_s;

  std::fprintf(stderr, "[%s5/5] leafsync end to end...\n", tag.c_str());
  std::uint64_t transactions = 0;
  Timed e = leafsyncEndToEnd(o, c.kafka, topic, c.dir.file("e2e" + (name.empty() ? std::string() : "-" + name) + ".sqlite"),
                             produced.messages, live, transactions);

  const char* a_label = name.empty() ? "sqlite upsert (ceiling A)" : "sqlite apply (ceiling A)";
  c.rows.push_back({p + a_label, n, a_s, a, 1.0, std::nullopt});
  c.rows.push_back({p + "  same, in Kafka arrival order", n, a2_s, a2, a2 / a, std::nullopt});
  c.rows.push_back({p + "librdkafka consume (ceiling B)", b_all.events, b_s, b, b / a, 1.0});
  c.rows.push_back({p + "leafsync kafka->sqlite end-to-end", e.events, e.seconds, e.rate(), e.rate() / a,
                    e.rate() / b});
  if (detailed) {
    // Without the group join and the first fetch: from the first batch seen in the copy.
    std::int64_t steady_events = e.events - e.first_events;
    double steady_s = e.seconds - e.first_s;
    double steady = static_cast<double>(steady_events) / steady_s;
    c.rows.push_back({p + "  same, after first batch applied", steady_events, steady_s, steady,
                      steady / a, steady / b});
    c.rows.push_back({p + "(setup) encode + produce, acks=all", produced.messages, produced.seconds,
                      static_cast<double>(produced.messages) / produced.seconds, std::nullopt, std::nullopt});
  }

  char note[500];
  // The partition appliers run in parallel, so their time in applyBatch is a sum over
  // threads (waiting for the group transaction that carries their batch included) and can
  // exceed the wall time.
  std::snprintf(note, sizeof note,
                "%s%.0f bytes/message; leafsync: %.2f s wall, its partition appliers %.2f s in"
                " Store::applyBatch summed (%" PRId64 " batches, %.1f ms each, waiting for the group"
                " transaction included) in %" PRIu64 " SQLite transactions; first batch applied after"
                " %.2f s; raw consumer first message after %.2f s",
                p.c_str(), static_cast<double>(produced.bytes) / static_cast<double>(produced.messages),
                e.seconds, e.apply_s, e.batches,
                e.batches ? 1000 * e.apply_s / static_cast<double>(e.batches) : 0.0, transactions, e.first_s,
                b_all.first_s);
  c.notes.push_back(note);
  return {e.rate() / a, e.rate() / a2, e.rate() / b};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parseOptions(argc, argv);
  } catch (const BenchError& e) {
    std::fprintf(stderr, "leafsync-bench-apply: %s\n", e.what());
    return 2;
  }
  setLogLevel(LogLevel::Warn);
  const int sqlite_batch = ConsumerConfig{}.batch_size;  // the 1,000-row transactions
  const int consumer_batch = o.batch_size > 0 ? o.batch_size : ConsumerConfig{}.batch_size;
  const int consumer_linger = o.linger_ms >= 0 ? o.linger_ms : ConsumerConfig{}.linger_ms;

  std::unique_ptr<KafkaAdmin> admin;
  auto deleteTopics = [&] {
    if (admin && !o.keep_topics) admin->deleteCreatedTopics("leafsync-bench-apply");
  };
  std::vector<Row> rows;
  std::vector<std::string> notes;
  Ratios creates;
  Ratios mix;
  const double load_before = loadAverage();
  try {
    WorkDir dir(o.work_dir);
    auto kafka = kafkaProperties(o.kafka_config, o.bootstrap, o.kafka_set);
    admin = std::make_unique<KafkaAdmin>(o.bootstrap);
    Workload workload(o.image_bytes);
    Context context{o, dir, kafka, *admin, workload, sqlite_batch, rows, notes};
    std::fprintf(stderr, "leafsync-bench-apply: %" PRId64 " events, %zu-byte images, broker %s, work dir %s\n",
                 o.events, o.image_bytes, o.bootstrap.c_str(), dir.path().c_str());

    creates = measure(context, "", Workload::creates(o.events), true);
    if (o.mix) {
      mix = measure(context, "mix", Workload::mix(o.events, 7), false);
      notes.push_back("mix: 60% creates, 35% metadata-only updates, 5% deletes; its ratios are against"
                      " its own ceilings");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leafsync-bench-apply: %s\n", e.what());
    deleteTopics();
    return 1;
  }
  deleteTopics();
  const double load_after = loadAverage();

  std::printf("leafsync-bench-apply: %" PRId64 " events, %zu-byte images, %d partitions, "
              "sqlite transactions of %d, consumer batch_size %d linger_ms %d, %u cpus\n\n",
              o.events, o.image_bytes, o.partitions, sqlite_batch, consumer_batch, consumer_linger,
              std::thread::hardware_concurrency());
  printTable(rows);
  std::printf("\n");
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  const double cpus = std::max(1u, std::thread::hardware_concurrency());
  std::printf("note: load average %.2f before, %.2f after%s\n", load_before, load_after,
              load_before > 0.5 * cpus || load_after > 1.5 * cpus
                  ? " -- the machine was busy with other work: compare ratios, not rates, and rerun"
                  : "");
  std::printf("end-to-end / sqlite ceiling A = %.2f (target >= 0.80: %s); / same ceiling in Kafka"
              " arrival order = %.2f; / kafka ceiling B = %.2f\n",
              creates.vs_a, creates.vs_a >= 0.8 ? "met" : "NOT met", creates.vs_a_arrival, creates.vs_b);
  if (o.mix) {
    std::printf("mix: end-to-end / its sqlite ceiling = %.2f; / in arrival order = %.2f\n", mix.vs_a,
                mix.vs_a_arrival);
  }
  std::fflush(stdout);
  if (o.require_ratio > 0 && creates.vs_a < o.require_ratio) return 3;
  return 0;
}
