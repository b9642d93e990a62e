// leafsync-batch-sync: the batch baseline (db_synchronizer_job) that the stream replaces. Copies
// the source into its own copy every period and exports what that costs on /metrics, so the
// two can be compared side by side.

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <pistache/router.h>
#include <string>

#include "BatchMetrics.h"
#include "BatchSynchronizer.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/HttpSupport.h"
#include "leafsync/Log.h"
#include "leafsync/StopSignals.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

constexpr const char* kUsage =
    "usage: leafsync-batch-sync [options]\n"
    "  --source URL              the source, producer_plant_db (default sqlite:var/producer_plant_db.sqlite)\n"
    "  --copy URL                the batch job's copy (default sqlite:var/batch_copy.sqlite)\n"
    "  --mode full|watermark     every row every run, or rows whose updated_at passed the last\n"
    "                            run's mark (default full)\n"
    "  --period-s S              seconds between run starts (default 600; fractions allowed, >= 0.1)\n"
    "  --http-port P             /metrics, /healthz, /readyz, /batch-status, POST /run and the\n"
    "                            read API over the copy (default 8082; 0 = any free port)\n"
    "  --page-rows N             rows per source query and copy transaction (default 500)\n"
    "  --watermark-overlap-s S   watermark runs re-read rows this much older than the mark (default 2)\n"
    "  --deletes ids|none        watermark runs: find deletes by reading the id set (default ids)\n"
    "  --once                    one run, print its numbers, exit (0 = the run succeeded)\n"
    "  --log-level L             debug, info, warn, error (default info)\n"
    "Every option can also come from the environment: LEAFSYNC_BATCH_SOURCE_URL, LEAFSYNC_BATCH_COPY_URL,\n"
    "LEAFSYNC_BATCH_MODE, LEAFSYNC_BATCH_PERIOD_S, LEAFSYNC_BATCH_HTTP_PORT (flags win).\n";

struct Args {
  std::map<std::string, std::string> options;
  std::string get(const std::string& name, const char* env, const std::string& fallback) const {
    auto it = options.find(name);
    if (it != options.end()) return it->second;
    if (env) {
      if (const char* value = std::getenv(env); value && *value) return value;
    }
    return fallback;
  }
  bool has(const std::string& name) const { return options.count(name) > 0; }
};

Args parseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--once" || arg == "--help" || arg == "-h") {
      args.options[arg] = "1";
      continue;
    }
    static const char* known[] = {"--source", "--copy", "--mode", "--period-s", "--http-port", "--page-rows",
                                  "--watermark-overlap-s", "--deletes", "--log-level"};
    bool ok = false;
    for (const char* k : known) ok = ok || arg == k;
    if (!ok) throw std::invalid_argument("unknown option '" + arg + "'");
    if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
    args.options[arg] = argv[++i];
  }
  return args;
}

double number(const std::string& text, const std::string& name, double min, double max) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(v >= min && v <= max)) {
    throw std::invalid_argument(name + " must be a number in [" + std::to_string(min) + ", " + std::to_string(max) +
                                "], got '" + text + "'");
  }
  return v;
}

nlohmann::json runJson(const BatchRunResult& r) {
  return {{"started_at", isoTimestamp(r.started_ms * 1000) + "Z"},
          {"finished_at", isoTimestamp(r.finished_ms * 1000) + "Z"},
          {"seconds", r.seconds},
          {"rows_read", r.rows_read},
          {"ids_read", r.ids_read},
          {"bytes_read", r.bytes_read},
          {"rows_written", r.rows_written},
          {"bytes_written", r.bytes_written},
          {"rows_unchanged", r.rows_unchanged},
          {"rows_deleted", r.rows_deleted},
          {"max_staleness_seconds", r.max_staleness_s}};
}

int run(const Args& args) {
  if (auto level = parseLogLevel(args.get("--log-level", "LEAFSYNC_LOG_LEVEL", "info"))) {
    setLogLevel(*level);
  } else {
    throw std::invalid_argument("--log-level must be debug, info, warn or error");
  }
  const std::string source_url = args.get("--source", "LEAFSYNC_BATCH_SOURCE_URL", "sqlite:var/producer_plant_db.sqlite");
  const std::string copy_url = args.get("--copy", "LEAFSYNC_BATCH_COPY_URL", "sqlite:var/batch_copy.sqlite");
  BatchOptions options;
  std::string mode = args.get("--mode", "LEAFSYNC_BATCH_MODE", "full");
  auto strategy = parseStrategy(mode);
  if (!strategy) throw std::invalid_argument("--mode must be full or watermark, got '" + mode + "'");
  options.strategy = *strategy;
  options.period = std::chrono::milliseconds(static_cast<std::int64_t>(
      1000 * number(args.get("--period-s", "LEAFSYNC_BATCH_PERIOD_S", "600"), "--period-s", 0.1, 86400 * 7)));
  options.page_rows = static_cast<int>(number(args.get("--page-rows", nullptr, "500"), "--page-rows", 1, 100000));
  options.watermark_overlap = std::chrono::milliseconds(static_cast<std::int64_t>(
      1000 * number(args.get("--watermark-overlap-s", nullptr, "2"), "--watermark-overlap-s", 0, 3600)));
  std::string deletes = args.get("--deletes", nullptr, "ids");
  if (deletes != "ids" && deletes != "none") throw std::invalid_argument("--deletes must be ids or none");
  options.detect_deletes = deletes == "ids";
  int port = static_cast<int>(number(args.get("--http-port", "LEAFSYNC_BATCH_HTTP_PORT", "8082"), "--http-port", 0, 65535));

  BatchMetrics metrics(strategyName(options.strategy));
  BatchSynchronizer job([source_url] { return openBatchSource(source_url); }, openStore(copy_url), options, metrics);

  if (args.has("--once")) {
    std::atomic<bool> never{false};
    BatchRunResult r = job.runOnce(never);
    metrics.runs_succeeded.Increment();
    std::cout << runJson(r).dump() << "\n";
    return 0;
  }

  ConnectionPool<Store> copies([copy_url] { return openStore(copy_url); }, 2);
  Pistache::Rest::Router router;
  using namespace Pistache;
  registerImageReadRoutes(router, [&copies](const std::function<void(ImageReader&)>& use) {
    auto store = copies.acquire();
    use(*store);
  });
  Rest::Routes::Get(router, "/healthz", guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Http::Code::Ok, R"({"status":"alive"})");
  }));
  Rest::Routes::Get(router, "/readyz", guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    bool ready = job.completedRuns() > 0;
    nlohmann::json body = {{"ready", ready},
                           {"waiting_for", ready ? nlohmann::json::array() : nlohmann::json::array({"the first run"})}};
    sendJson(req, res, ready ? Http::Code::Ok : Http::Code::Service_Unavailable, body.dump());
  }));
  Rest::Routes::Get(router, "/metrics", guarded([&metrics](const Rest::Request& req, Http::ResponseWriter& res) {
    sendText(req, res, Http::Code::Ok, metrics.serialize(), Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }));
  Rest::Routes::Get(router, "/batch-status", guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    auto last = job.lastRun();
    nlohmann::json body = {{"strategy", strategyName(job.options().strategy)},
                           {"period_seconds", static_cast<double>(job.options().period.count()) / 1000.0},
                           {"completed_runs", job.completedRuns()},
                           {"last_run", last ? runJson(*last) : nlohmann::json(nullptr)}};
    sendJson(req, res, Http::Code::Ok, body.dump());
  }));
  Rest::Routes::Post(router, "/run", guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    job.runNow();
    sendJson(req, res, Http::Code::Accepted, R"({"run":"requested"})");
  }));
  HttpServer server(static_cast<std::uint16_t>(port), 2, 64 * 1024);
  server.start(router);
  job.start();
  logEvent(LogLevel::Info, "started",
           {{"http_port", server.port()}, {"strategy", strategyName(options.strategy)},
            {"period_s", static_cast<double>(options.period.count()) / 1000.0}, {"source", redactUrl(source_url)},
            {"copy", redactUrl(copy_url)}});

  sigset_t signals = stopSignalSet();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  logEvent(LogLevel::Info, "stopping", {{"signal", strsignal(signal_number)}});
  job.stop();  // a run in progress stops at its next page; what it committed stays (idempotent)
  logEvent(LogLevel::Info, "stopped");
  return 0;
}

}  // namespace
}  // namespace leafsync

int main(int argc, char** argv) {
  using namespace leafsync;
  sigset_t signals = stopSignalSet();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    Args args = parseArgs(argc, argv);
    if (args.has("--help") || args.has("-h")) {
      std::cout << kUsage;
      return 0;
    }
    return run(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "leafsync-batch-sync: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    logEvent(LogLevel::Error, "failed", {{"error", e.what()}});
    return 1;
  }
}
