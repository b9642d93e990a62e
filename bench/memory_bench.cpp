// leafsync-bench-memory: peak memory of the real leafsync-consumer process (VmHWM from /proc)
// next to its memory budget and its pod's limit, all measured in one run:
//
//   idle          the consumer started on empty topics, stg settings
//   catch-up      a backlog of --events × 1 KiB and of --big-events × 20 KiB events over 3
//                 topics × 3 partitions (stg's 9), caught up by a fresh copy and group with
//                 stg settings (config/kafka.stg.json + the stg configmap's budget), dev settings
//                 (config/kafka.dev.json + config/consumer.yaml's budget), stg's properties
//                 without a budget (what stg ran before the budget), and the dev properties
//                 without a budget: the unbounded settings every rate is compared to; and a
//                 backlog of --topic-events × 4 KiB on one topic only, beside six caught-up
//                 partitions (a snapshot or a burst of one plant)
//   listing       --images potato images of --image-kb KB in the copy, listed whole (every page,
//                 following next_after_id) by one client and by eight at once, stg settings;
//                 "added" is the peak over the peak before the listing, its budget 2 × the
//                 byte limit (http.max_response_bytes) per listing under way at once (at most
//                 http.large_response_slots: the others get 503 and retry); the note gives
//                 added / (listings under way × byte limit)
//
// Prints one table on stdout; progress goes to stderr. Needs the broker of LEAFSYNC_TEST_BOOTSTRAP.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "leafsync/EventCodec.h"
#include "leafsync/ReadLimits.h"
#include "leafsync/StoreFactory.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/HttpClient.h"
#include "support/KafkaTestKit.h"
#include "support/StreamModel.h"
#include "support/TempDir.h"

namespace {

using namespace leafsync;
using namespace leafsync::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kMiB = 1 << 20;

struct Options {
  std::int64_t events = 500000;
  std::int64_t big_events = 20000;
  std::int64_t topic_events = 20000;
  std::int64_t images = 1000;
  std::size_t image_kb = 700;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first integer after `pattern` in a file of this source tree (the budgets and limits the
// deployment really uses, not copies of them).
int numberIn(const std::string& relative, const std::string& pattern) {
  std::string text = readFile(std::string(LEAFSYNC_SOURCE_DIR) + "/" + relative);
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern + R"(\s*"?(\d+))"))) {
    throw std::runtime_error(relative + ": no '" + pattern + "'");
  }
  return std::stoi(match[1]);
}

struct Settings {
  std::string name;
  std::string properties;  // librdkafka JSON of the source tree
  int budget_mb = 0;       // 0: none
  int pod_limit_mb = 0;    // 0: not deployed
};

struct Row {
  std::string what;
  std::string settings;
  double peak_mib = 0;
  int budget_mb = 0;
  int pod_limit_mb = 0;
  double rate = 0;         // events/s, 0 when not a catch-up
  double baseline = 0;     // the unbounded rate of the same backlog
  double cpu_us_per_event = 0;
  std::string note;
};

std::map<std::string, std::string> environment(const Settings& s, const std::string& group, const std::string& db) {
  std::map<std::string, std::string> env = {
      {"LEAFSYNC_KAFKA_PROPERTIES", std::string(LEAFSYNC_SOURCE_DIR) + "/" + s.properties},
      {"LEAFSYNC_BOOTSTRAP_SERVERS", testBootstrap()},
      {"LEAFSYNC_GROUP_ID", group},
      {"LEAFSYNC_DATABASE_URL", "sqlite:" + db}};
  env["LEAFSYNC_MEMORY_BUDGET_MB"] = std::to_string(s.budget_mb);
  return env;
}

Row catchUp(const std::string& what, const ConsumerSetup& setup, std::int64_t events, const Settings& s,
            const TempDir& dir, int run) {
  std::string db = dir.file("copy-" + std::to_string(run) + ".sqlite");
  ConsumerProcess consumer(setup, dir.file("consumer-" + std::to_string(run) + ".log"),
                           environment(s, setup.group + "-" + std::to_string(run), db));
  auto started = Clock::now();
  consumer.start();
  consumer.waitStarted();
  bool done = eventually([&] { return committedEvents("sqlite:" + db) >= events; }, 900s, 100ms);
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  Row row;
  row.what = what;
  row.settings = s.name;
  row.peak_mib = consumer.peakRssBytes() / kMiB;
  row.budget_mb = s.budget_mb;
  row.pod_limit_mb = s.pod_limit_mb;
  row.rate = done ? static_cast<double>(events) / seconds : 0;
  row.cpu_us_per_event = consumer.cpuSeconds() * 1e6 / static_cast<double>(events);
  if (!done) row.note = "did not catch up";
  consumer.terminate(15s);
  std::filesystem::remove(db);
  std::cerr << "memory-bench: " << what << " " << s.name << ": " << row.peak_mib << " MiB, " << row.rate << " events/s\n";
  return row;
}

// `events` of the model's stream that are potato's: its three partitions behind, the other
// topics' six caught up.
void publishPotatoOnly(StreamModel& model, std::int64_t events, const ConsumerSetup& setup) {
  TestProducer producer;
  for (std::int64_t sent = 0; sent < events;) {
    ChangeEvent e = model.next();
    if (e.plant != Plant::Potato) continue;
    producer.send(setup.topic(e.plant), EventCodec::encodeKey(e.image.id), EventCodec::encode(e));
    ++sent;
  }
  producer.flush();
}

std::string fixed(double v, int digits) {
  char out[32];
  std::snprintf(out, sizeof out, "%.*f", digits, v);
  return out;
}

// Walks potato's whole listing; returns the images seen (-1 on a wrong page) and counts 503s.
std::int64_t walkListing(std::uint16_t port, std::int64_t& refused) {
  std::int64_t after = 0;
  std::int64_t images = 0;
  for (;;) {
    auto response = httpRequest(port, "GET", "/image-plant/potato/?limit=1000&after_id=" + std::to_string(after));
    if (response.status == 503) {
      ++refused;
      std::this_thread::sleep_for(100ms);
      continue;
    }
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status != 200 || body.is_discarded()) return -1;
    for (const auto& item : body["items"]) {
      if (item["id"].get<std::int64_t>() != after + 1) return -1;
      after = item["id"].get<std::int64_t>();
      ++images;
    }
    if (body["next_after_id"].is_null()) return images;
    if (body["next_after_id"].get<std::int64_t>() != after) return -1;
  }
}

Row listing(const ConsumerSetup& setup, const Settings& s, const std::string& db, const Options& o, int clients,
            const TempDir& dir) {
  ConsumerProcess consumer(setup, dir.file("listing-" + std::to_string(clients) + ".log"),
                           environment(s, setup.group + "-listing", db));
  consumer.start();
  std::uint16_t port = consumer.waitStarted();
  httpRequest(port, "GET", "/image-plant/potato/1");
  double before = consumer.peakRssBytes() / kMiB;
  double cpu_before = consumer.cpuSeconds();
  std::vector<std::int64_t> seen(clients);
  std::vector<std::int64_t> refused(clients);
  auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) threads.emplace_back([&, c] { seen[c] = walkListing(port, refused[c]); });
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  Row row;
  row.what = std::to_string(o.images) + " × " + std::to_string(o.image_kb) + " KB listing, " +
             std::to_string(clients) + " at once (added)";
  row.settings = s.name;
  row.peak_mib = consumer.peakRssBytes() / kMiB - before;
  const ReadLimits limits;  // the stg settings leave the defaults
  const int under_way = std::min(clients, limits.large_response_slots);
  row.budget_mb = 2 * under_way * (limits.max_response_bytes >> 20);
  row.pod_limit_mb = s.pod_limit_mb;
  row.rate = static_cast<double>(o.images * clients) / seconds;
  row.cpu_us_per_event = (consumer.cpuSeconds() - cpu_before) * 1e6 / static_cast<double>(o.images * clients);
  std::int64_t total_refused = 0;
  bool all = true;
  for (int c = 0; c < clients; ++c) {
    total_refused += refused[c];
    all = all && seen[c] == o.images;
  }
  row.note = std::string(all ? "every page valid" : "WRONG PAGES") + ", " + std::to_string(total_refused) +
             " × 503; added/(" + std::to_string(under_way) + " × byte limit) = " +
             fixed(row.peak_mib / (under_way * (limits.max_response_bytes >> 20)), 2);
  consumer.terminate(15s);
  std::cerr << "memory-bench: listing " << clients << ": +" << row.peak_mib << " MiB\n";
  return row;
}


}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--events") o.events = std::stoll(argv[i + 1]);
    else if (flag == "--big-events") o.big_events = std::stoll(argv[i + 1]);
    else if (flag == "--topic-events") o.topic_events = std::stoll(argv[i + 1]);
    else if (flag == "--images") o.images = std::stoll(argv[i + 1]);
    else if (flag == "--image-kb") o.image_kb = std::stoul(argv[i + 1]);
    else {
      std::cerr << "usage: leafsync-bench-memory [--events N] [--big-events N] [--topic-events N] [--images N] "
                   "[--image-kb KB]\n";
      return 2;
    }
  }
  try {
    const int stg_limit = numberIn("k8s/stg/40-consumer.yaml", R"(limits:[\s\S]*?memory:)");
    const Settings stg{"stg", "config/kafka.stg.json", numberIn("k8s/stg/10-configmap.yaml", "budget_mb:"), stg_limit};
    const Settings dev{"dev", "config/kafka.dev.json", numberIn("config/consumer.yaml", "budget_mb:"), 0};
    const Settings stg_before{"stg props, no budget", "config/kafka.stg.json", 0, stg_limit};
    const Settings unbounded{"dev props, no budget", "config/kafka.dev.json", 0, 0};
    std::vector<Row> rows;
    TempDir dir;
    int run = 0;

    ConsumerSetup small(dir, 3);
    rows.push_back(catchUp("idle", small, 0, stg, dir, run++));
    rows.back().rate = 0;
    rows.back().cpu_us_per_event = 0;

    struct Backlog {
      std::int64_t events;
      std::size_t bytes;
      bool one_topic;
    };
    for (Backlog b : {Backlog{o.events, 1024, false}, Backlog{o.big_events, 20 * 1024, false},
                      Backlog{o.topic_events, 4 * 1024, true}}) {
      if (b.events <= 0) continue;
      TempDir backlog_dir;
      ConsumerSetup setup(backlog_dir, 3);
      StreamModel model(7, b.bytes);
      std::cerr << "memory-bench: producing " << b.events << " events of " << b.bytes << " B\n";
      if (b.one_topic) {
        publishPotatoOnly(model, b.events, setup);
      } else {
        publishChanges(model, b.events, setup);
      }
      std::string what = std::to_string(b.events) + " × " + std::to_string(b.bytes / 1024) + " KiB catch-up" +
                         (b.one_topic ? " of one topic" : "");
      Row base = catchUp(what, setup, b.events, unbounded, backlog_dir, run++);
      for (const Settings* s : {&stg, &dev, &stg_before}) {
        Row row = catchUp(what, setup, b.events, *s, backlog_dir, run++);
        row.baseline = base.rate;
        rows.push_back(row);
      }
      base.baseline = base.rate;
      rows.push_back(base);
    }

    if (o.images > 0) {
      std::string db = dir.file("images.sqlite");
      {
        auto copy = openStore("sqlite:" + db);
        std::string data(o.image_kb * 1000, '\0');
        std::vector<ChangeEvent> batch;
        for (std::int64_t id = 1; id <= o.images; ++id) {
          for (std::size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(id + i);
          batch.push_back(EventBuilder::create(id, 1).data(data));
          if (batch.size() == 50 || id == o.images) {
            copy->applyBatch(batch, {});
            batch.clear();
          }
        }
      }
      rows.push_back(listing(small, stg, db, o, 1, dir));
      rows.push_back(listing(small, stg, db, o, 8, dir));
    }

    std::cout << "| case | settings | peak RSS MiB | budget MiB | peak/budget | pod limit MiB | rate /s | rate vs unbounded | CPU µs/event | note |\n"
              << "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const Row& r : rows) {
      std::cout << "| " << r.what << " | " << r.settings << " | " << fixed(r.peak_mib, 1) << " | "
                << (r.budget_mb ? std::to_string(r.budget_mb) : "—") << " | "
                << (r.budget_mb ? fixed(r.peak_mib / r.budget_mb, 2) : "—") << " | "
                << (r.pod_limit_mb ? std::to_string(r.pod_limit_mb) : "—") << " | "
                << (r.rate > 0 ? fixed(r.rate, 0) : "—") << " | "
                << (r.baseline > 0 && r.rate > 0 ? fixed(r.rate / r.baseline, 2) : "—") << " | "
                << (r.cpu_us_per_event > 0 ? fixed(r.cpu_us_per_event, 1) : "—") << " | " << r.note << " |\n";
    }
    std::cout << "load average " << fixed([] {
      double l = 0;
      std::ifstream("/proc/loadavg") >> l;
      return l;
    }(), 2) << "; listings' byte limit " << (ReadLimits{}.max_response_bytes >> 20) << " MiB per response, "
              << ReadLimits{}.large_response_slots << " large responses at once\n";
  } catch (const std::exception& e) {
    std::cerr << "leafsync-bench-memory: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
