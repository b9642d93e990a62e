// leafsync-producer: the image-api over producer_plant_db with its outbox relay (serve), the
// camera load generator (load) and the row-by-row comparison of source and copy (verify).

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "EventPublisher.h"
#include "ImageApi.h"
#include "LoadGenerator.h"
#include "OutboxRelay.h"
#include "ProducerMetrics.h"
#include "SnapshotPublisher.h"
#include "Verifier.h"
#include "leafsync/CommandLine.h"
#include "leafsync/MallocTuning.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/HttpServer.h"
#include "leafsync/Log.h"
#include "leafsync/StopSignals.h"
#include "leafsync/ProducerConfig.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

// What the command line gave; CLI11 fills it and checks every value's type and range.
struct Args {
  std::string config_path = "config/producer.yaml";
  bool no_relay = false;
  LoadOptions load;
  std::string mix = "20:75:5";  // into `load` once checked
  SnapshotOptions snapshot;
  std::string plant;
  std::string source_url, copy_url;
};

std::unique_ptr<OutboxRelay> makeRelay(const ProducerConfig& config, ProducerMetrics& metrics) {
  return std::make_unique<OutboxRelay>([url = config.database_url] { return openSourceStore(url); },
                                       std::make_unique<KafkaEventPublisher>(config.kafka), config.topics,
                                       config.relay_batch_size, config.relay_poll_ms, metrics);
}

// A writing command (load, snapshot) with the relay that publishes what it writes (unless
// --no-relay: a running `serve` publishes) and SIGINT/SIGTERM turned into a clean early end.
class WritingRun {
 public:
  WritingRun(const ProducerConfig& config, bool with_relay) {
    if (with_relay) {
      relay_ = makeRelay(config, metrics_);
      relay_->start();
    }
    watcher_ = std::thread([this] {
      sigset_t signals = stopSignalSet();
      int signal_number = 0;
      sigwait(&signals, &signal_number);
      stop_ = true;
    });
  }
  ~WritingRun() {
    finish();
    pthread_kill(watcher_.native_handle(), SIGTERM);  // wakes the watcher's sigwait
    watcher_.join();
  }
  std::function<void()> onWrite() {
    return [this] {
      if (relay_) relay_->notify();
    };
  }
  // Publishes what is left (when there is a relay) and stops it.
  void finish() {
    if (relay_) relay_->stop();
  }
  const std::atomic<bool>& stop() const { return stop_; }

 private:
  ProducerMetrics metrics_;
  std::unique_ptr<OutboxRelay> relay_;
  std::atomic<bool> stop_{false};
  std::thread watcher_;
};

int serve(const Args& args) {
  ProducerConfig config = loadProducerConfig(args.config_path, processEnvironment());
  setLogLevel(config.log_level);
  ProducerMetrics metrics;
  auto relay = makeRelay(config, metrics);
  ConnectionPool<SourceStore> stores([&config] { return openSourceStore(config.database_url); },
                                     static_cast<std::size_t>(config.http_threads));
  openAtStartup(stores, config.database_url);
  ImageApi api(stores, metrics, config.write_token, static_cast<std::size_t>(config.max_body_bytes),
               [&relay] { relay->notify(); });
  RouteTable routes;
  api.registerRoutes(routes, config.read_limits);
  // Bodies over max_body_bytes are refused (JSON 413) from their Content-Length, unread.
  HttpServer server(static_cast<std::uint16_t>(config.http_port), config.http_threads,
                    static_cast<std::size_t>(config.max_body_bytes), metrics.registry());
  server.start(routes);
  relay->start();
  logEvent(LogLevel::Info, "started",
           {{"http_port", server.port()}, {"database", redactUrl(config.database_url)},
            {"writes_need_token", !config.write_token.empty()}});
  sigset_t signals = stopSignalSet();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  logEvent(LogLevel::Info, "stopping", {{"signal", strsignal(signal_number)}});
  relay->stop();
  logEvent(LogLevel::Info, "stopped");
  return 0;
}

int load(const Args& args) {
  ProducerConfig config = loadProducerConfig(args.config_path, processEnvironment());
  setLogLevel(config.log_level);
  LoadOptions options = args.load;
  parseMix(args.mix, options);  // --mix checked it
  WritingRun run(config, !args.no_relay);
  auto store = openSourceStore(config.database_url);
  LoadResult result = runLoad(*store, options, run.onWrite(), run.stop());
  run.finish();
  std::int64_t unpublished = store->pendingCount();
  std::printf("load: %lld writes (%lld creates, %lld updates, %lld deletes) in %.2f s = %.1f writes/s"
              " (target %.1f), %lld errors, %lld events not yet published\n",
              static_cast<long long>(result.writes()), static_cast<long long>(result.creates),
              static_cast<long long>(result.updates), static_cast<long long>(result.deletes), result.seconds,
              static_cast<double>(result.writes()) / result.seconds, options.rate,
              static_cast<long long>(result.errors), static_cast<long long>(unpublished));
  return result.errors == 0 ? 0 : 1;
}

int snapshot(const Args& args) {
  ProducerConfig config = loadProducerConfig(args.config_path, processEnvironment());
  setLogLevel(config.log_level);
  SnapshotOptions options = args.snapshot;
  if (!args.plant.empty()) options.plants = {*parsePlant(args.plant)};  // --plant checked it
  WritingRun run(config, !args.no_relay);
  auto store = openSourceStore(config.database_url);
  SnapshotResult result = runSnapshot(*store, options, run.onWrite(), run.stop(), std::cerr);
  run.finish();
  bool interrupted = run.stop();
  double deviation = 100.0 * (result.rate() - options.rate) / options.rate;
  std::printf("snapshot: %lld rows in %.2f s = %.1f rows/s (target %.1f, %+.1f%%), %lld events not yet published%s\n",
              static_cast<long long>(result.rows), result.seconds, result.rate(), options.rate, deviation,
              static_cast<long long>(store->pendingCount()), interrupted ? " (interrupted)" : "");
  return interrupted ? 1 : 0;
}

int verify(const Args& args) {
  // Opening creates an empty store where there is none: a mistyped path would "verify" as
  // two equal empty stores. Both must exist and be of their kind first.
  requireExistingStore(args.source_url, StoreKind::Source);
  requireExistingStore(args.copy_url, StoreKind::Copy);
  auto source = openSourceStore(args.source_url);
  auto copy = openStore(args.copy_url);
  auto comparisons = compareCopies(*source, *copy);
  addParkedUpdates(*copy, comparisons);
  for (const auto& c : comparisons) {
    std::printf("%-7s source %8lld  copy %8lld  missing %6lld  extra %6lld  differing %6lld  parked %6lld\n",
                std::string(plantName(c.plant)).c_str(), static_cast<long long>(c.source_rows),
                static_cast<long long>(c.copy_rows), static_cast<long long>(c.missing),
                static_cast<long long>(c.extra), static_cast<long long>(c.differing),
                static_cast<long long>(c.parked));
  }
  for (const auto& c : comparisons) {
    for (const auto& example : c.examples) std::printf("  %s\n", example.c_str());
  }
  bool same = identical(comparisons);
  std::printf("verify: %s\n", same ? "the copy equals the source" : "DIFFERENCES FOUND");
  return same ? 0 : 1;
}

// The routes `serve` registers, from the same ImageApi::registerRoutes, on an API that never
// runs: no database is opened (the pool opens lazily) and no handler is called.
nlohmann::json describeHttp(const nlohmann::json& settings) {
  ConnectionPool<SourceStore> no_source(
      []() -> std::unique_ptr<SourceStore> { throw std::logic_error("--describe opens no store"); }, 0);
  ProducerMetrics metrics;
  ImageApi api(no_source, metrics, "", 0, [] {});
  RouteTable routes;
  api.registerRoutes(routes, ReadLimits{});
  return routes.describe(describeSettingSource(settings, "http.port"), "serve");
}

// The --config default of `serve`, as its --help shows it (not what this command line gave).
std::string serveConfigDefault(const CLI::App& app) {
  return app.get_subcommand("serve")->get_option("--config")->get_default_str();
}

}  // namespace
}  // namespace leafsync

int main(int argc, char** argv) {
  using namespace leafsync;
  sigset_t signals = stopSignalSet();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mapLargeBlocks();  // large read responses return their memory once written
  // Summaries are read by scripts and tests as they happen, also when stdout is a file.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  CLI::App app("leafsync-producer: the image-api over producer_plant_db with its outbox relay, the load\n"
               "generator, the snapshot and the comparison of source and copy.",
               "leafsync-producer");
  configureApp(app, "leafsync-producer");
  app.require_subcommand(0, 1);  // none is refused below, after CLI11 named any unknown word
  Args args;
  bool describe = false;
  app.add_flag(kDescribeFlag, describe, kDescribeHelp);
  auto config_option = [&args](CLI::App* command) {
    command->add_option("--config", args.config_path, "service settings (YAML)")->type_name("PATH")->capture_default_str();
  };
  auto no_relay_option = [&args](CLI::App* command) {
    command->add_flag("--no-relay", args.no_relay, "do not publish the outbox (a running `serve` does)");
  };

  CLI::App* serve_cmd = app.add_subcommand("serve", "the image-api and its outbox relay");
  config_option(serve_cmd);

  CLI::App* load_cmd = app.add_subcommand("load", "simulated cameras writing to the source");
  config_option(load_cmd);
  args.load.seed = static_cast<std::uint64_t>(nowMicros());
  load_cmd->add_option("--rate", args.load.rate, "writes per second, all plants together")
      ->type_name("N")->check(positiveNumber())->capture_default_str();
  load_cmd->add_option("--duration", args.load.duration_s, "seconds to run")
      ->type_name("S")->check(positiveNumber())->capture_default_str();
  load_cmd->add_option("--mix", args.mix, "relative weights of creates, updates and deletes")
      ->type_name("C:U:D")
      ->check([](const std::string& text) {
        LoadOptions probe;
        try {
          parseMix(text, probe);
          return std::string();
        } catch (const std::invalid_argument&) {
          return "must be create:update:delete weights, e.g. 20:75:5, got '" + text + "'";
        }
      })
      ->capture_default_str();
  load_cmd->add_option("--image-bytes", args.load.image_bytes, "bytes of each created image")
      ->type_name("B")->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20))->capture_default_str();
  load_cmd->add_option("--seed", args.load.seed, "random seed (default: the clock)")->type_name("N");
  no_relay_option(load_cmd);

  CLI::App* snapshot_cmd = app.add_subcommand("snapshot", "publish every live row (op r) to rebuild a copy");
  config_option(snapshot_cmd);
  snapshot_cmd->add_option("--plant", args.plant, "only this plant's rows (default all)")
      ->check(CLI::IsMember({"potato", "tomato", "pepper"}));
  snapshot_cmd->add_option("--rate", args.snapshot.rate, "rows per second, all plants together")
      ->type_name("N")->check(positiveNumber())->capture_default_str();
  no_relay_option(snapshot_cmd);

  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "compare source and copy row by row (exit 1 on any difference or a store that is not there)");
  verify_cmd->add_option("--source", args.source_url, "the source: sqlite:PATH or postgresql://...")
      ->type_name("URL")->required();
  verify_cmd->add_option("--copy", args.copy_url, "the copy: sqlite:PATH or postgresql://...")
      ->type_name("URL")->required();

  CLI::App* print_env_cmd = app.add_subcommand("print-env", "the LEAFSYNC_* variables that override settings");
  CLI::App* help_cmd = app.add_subcommand("help", "this usage");

  if (auto code = parseCommandLine(app, argc, argv)) return *code;
  if (describe) {
    nlohmann::json settings = describeProducerSettings();
    nlohmann::json config = {{"option", "--config"}, {"default_file", serveConfigDefault(app)}, {"keys", settings["keys"]}};
    std::cout << describeBinary("leafsync-producer", app, config, settings["env"], describeHttp(settings));
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << "leafsync-producer: a subcommand is required: serve, load, snapshot, verify or print-env\n"
                 "Run 'leafsync-producer --help' for the usage.\n";
    return kExitUsage;
  }
  if (help_cmd->parsed()) {
    // app.help() would describe the parsed subcommand, `help` itself.
    std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
    return 0;
  }
  if (print_env_cmd->parsed()) {
    for (const auto& e : producerEnvOverrides()) std::cout << e.name << '\t' << e.setting << '\n';
    return 0;
  }
  return runLogged([&] {
    if (serve_cmd->parsed()) return serve(args);
    if (load_cmd->parsed()) return load(args);
    if (snapshot_cmd->parsed()) return snapshot(args);
    return verify(args);
  });
}
