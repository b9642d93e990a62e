// leafsync-batch-sync: the batch baseline (db_synchronizer_job) that the stream replaces. Copies
// the source into its own copy every period and exports what that costs on /metrics, so the
// two can be compared side by side.

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "BatchMetrics.h"
#include "BatchSynchronizer.h"
#include "leafsync/CommandLine.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/HttpServer.h"
#include "leafsync/ImageReadRoutes.h"
#include "leafsync/Log.h"
#include "leafsync/StopSignals.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

// The command line; every option can also come from its environment variable (the flag wins).
struct Args {
  std::string source_url = "sqlite:var/producer_plant_db.sqlite";
  std::string copy_url = "sqlite:var/batch_copy.sqlite";
  std::string mode = "full";
  double period_s = 600;
  int http_port = 8082;
  int page_rows = 500;
  double watermark_overlap_s = 2;
  std::string deletes = "ids";
  bool once = false;
  std::string log_level = "info";
};

void addOptions(CLI::App& app, Args& args) {
  app.add_option("--source", args.source_url, "the source, producer_plant_db")
      ->type_name("URL")->envname("LEAFSYNC_BATCH_SOURCE_URL")->capture_default_str();
  app.add_option("--copy", args.copy_url, "the batch job's copy")
      ->type_name("URL")->envname("LEAFSYNC_BATCH_COPY_URL")->capture_default_str();
  app.add_option("--mode", args.mode, "every row every run (full), or rows whose updated_at passed the last run's mark")
      ->check(CLI::IsMember({"full", "watermark"}))->envname("LEAFSYNC_BATCH_MODE")->capture_default_str();
  app.add_option("--period-s", args.period_s, "seconds between run starts (fractions allowed)")
      ->type_name("S")->check(CLI::Range(0.1, 86400.0 * 7))->envname("LEAFSYNC_BATCH_PERIOD_S")->capture_default_str();
  app.add_option("--http-port", args.http_port,
                 "/metrics, /healthz, /readyz, /batch-status, POST /run and the read API over the copy (0 = any free port)")
      ->type_name("P")->check(CLI::Range(0, 65535))->envname("LEAFSYNC_BATCH_HTTP_PORT")->capture_default_str();
  app.add_option("--page-rows", args.page_rows, "rows per source query and copy transaction")
      ->type_name("N")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--watermark-overlap-s", args.watermark_overlap_s, "watermark runs re-read rows this much older than the mark")
      ->type_name("S")->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  app.add_option("--deletes", args.deletes, "watermark runs: find deletes by reading the id set (ids) or not (none)")
      ->check(CLI::IsMember({"ids", "none"}))->capture_default_str();
  app.add_flag("--once", args.once, "one run, print its numbers, exit (0 = the run succeeded)");
  app.add_option("--log-level", args.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->envname("LEAFSYNC_LOG_LEVEL")->capture_default_str();
}

nlohmann::json runJson(const BatchRunResult& r) {
  return {{"started_at", isoTimestamp(r.started_ms * 1000) + "Z"},
          {"finished_at", isoTimestamp(r.finished_ms * 1000) + "Z"},
          {"seconds", r.seconds},
          {"rows_read", r.rows_read},
          {"ids_read", r.ids_read},
          {"bytes_read", r.bytes_read},
          {"transport", transportName(r.transport.kind)},
          {"transport_bytes_received", r.transport.received},
          {"transport_bytes_sent", r.transport.sent},
          {"rows_written", r.rows_written},
          {"bytes_written", r.bytes_written},
          {"rows_unchanged", r.rows_unchanged},
          {"rows_deleted", r.rows_deleted},
          {"max_staleness_seconds", r.max_staleness_s}};
}

// The job's HTTP API: the read API over its copy, probes, metrics, its status and POST /run.
void registerRoutes(RouteTable& routes, BatchSynchronizer& job, BatchMetrics& metrics, ConnectionPool<Store>& copies) {
  using namespace Pistache;
  registerImageReadRoutes(routes, [&copies](const std::function<void(ImageReader&)>& use) {
    auto store = copies.acquire();
    use(*store);
  }, ReadLimits{});  // the batch job has no http.* settings: the defaults
  routes.get(kLivenessPath, guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Http::Code::Ok, R"({"status":"alive"})");
  }));
  routes.get(kReadinessPath, guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    bool ready = job.completedRuns() > 0;
    nlohmann::json body = {{"ready", ready},
                           {"waiting_for", ready ? nlohmann::json::array() : nlohmann::json::array({"the first run"})}};
    sendJson(req, res, ready ? Http::Code::Ok : Http::Code::Service_Unavailable, body.dump());
  }));
  routes.get(kMetricsPath, guarded([&metrics](const Rest::Request& req, Http::ResponseWriter& res) {
    sendText(req, res, Http::Code::Ok, metrics.serialize(), Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }));
  routes.get("/batch-status", guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    auto last = job.lastRun();
    nlohmann::json body = {{"strategy", strategyName(job.options().strategy)},
                           {"period_seconds", static_cast<double>(job.options().period.count()) / 1000.0},
                           {"completed_runs", job.completedRuns()},
                           {"last_run", last ? runJson(*last) : nlohmann::json(nullptr)}};
    sendJson(req, res, Http::Code::Ok, body.dump());
  }));
  routes.post("/run", guarded([&job](const Rest::Request& req, Http::ResponseWriter& res) {
    job.runNow();
    sendJson(req, res, Http::Code::Accepted, R"({"run":"requested"})");
  }));
}

// The routes run() registers, from the same registerRoutes, on a job that never runs: no
// database is opened and no handler is called.
nlohmann::json describeHttp(const CLI::App& app) {
  BatchMetrics metrics("full");
  BatchSynchronizer job([]() -> std::unique_ptr<BatchSource> { throw std::logic_error("--describe opens no store"); },
                        nullptr, BatchOptions{}, metrics);
  ConnectionPool<Store> no_copy([]() -> std::unique_ptr<Store> { throw std::logic_error("--describe opens no store"); }, 0);
  RouteTable routes;
  registerRoutes(routes, job, metrics, no_copy);
  const CLI::Option* port = app.get_option("--http-port");
  return routes.describe({{"option", port->get_name()}, {"env", port->get_envname()}, {"default", std::stoi(port->get_default_str())}}, "");
}

int run(const Args& args) {
  setLogLevel(*parseLogLevel(args.log_level));  // --log-level checked it
  const std::string& source_url = args.source_url;
  const std::string& copy_url = args.copy_url;
  BatchOptions options;
  options.strategy = *parseStrategy(args.mode);  // --mode checked it
  options.period = std::chrono::milliseconds(static_cast<std::int64_t>(1000 * args.period_s));
  options.page_rows = args.page_rows;
  options.watermark_overlap = std::chrono::milliseconds(static_cast<std::int64_t>(1000 * args.watermark_overlap_s));
  options.detect_deletes = args.deletes == "ids";
  int port = args.http_port;

  BatchMetrics metrics(strategyName(options.strategy), transportName(sourceTransport(source_url)));
  BatchSynchronizer job([source_url] { return openBatchSource(source_url); }, openStore(copy_url), options, metrics);

  if (args.once) {
    std::atomic<bool> never{false};
    BatchRunResult r = job.runOnce(never);
    metrics.runs_succeeded.Increment();
    std::cout << runJson(r).dump() << "\n";
    return 0;
  }

  ConnectionPool<Store> copies([copy_url] { return openStore(copy_url); }, 2);
  RouteTable routes;
  registerRoutes(routes, job, metrics, copies);
  HttpServer server(static_cast<std::uint16_t>(port), 2, 64 * 1024, metrics.registry());
  server.start(routes);
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
  CLI::App app("leafsync-batch-sync: the batch baseline (db_synchronizer_job) the stream replaces; copies the\n"
               "source into its own copy every period and exports what that costs on /metrics.",
               "leafsync-batch-sync");
  configureApp(app, "leafsync-batch-sync");
  Args args;
  addOptions(app, args);
  bool describe = false;
  app.add_flag(kDescribeFlag, describe, kDescribeHelp);
  if (auto code = parseCommandLine(app, argc, argv)) return *code;
  if (describe) {
    std::cout << describeBinary("leafsync-batch-sync", app, nullptr, describeOptionEnvironment(app), describeHttp(app));
    return 0;
  }
  return runLogged([&] { return run(args); });
}
