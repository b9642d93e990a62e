// leafsync-producer: the image-api over producer_plant_db with its outbox relay (serve), the
// camera load generator (load) and the row-by-row comparison of source and copy (verify).

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <pistache/router.h>
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
#include "leafsync/MallocTuning.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/HttpSupport.h"
#include "leafsync/Log.h"
#include "leafsync/StopSignals.h"
#include "leafsync/ProducerConfig.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

constexpr const char* kUsage =
    "usage: leafsync-producer COMMAND [options]\n"
    "  serve  [--config PATH]            the image-api and its outbox relay\n"
    "  load   [--config PATH] [--rate N] [--duration S] [--mix C:U:D] [--image-bytes B]\n"
    "         [--seed N] [--no-relay]     simulated cameras writing to the source\n"
    "  snapshot [--config PATH] [--plant P] [--rate N] [--no-relay]\n"
    "                                     publish every live row (op r) to rebuild a copy, N rows/s\n"
    "  verify --source URL --copy URL     compare source and copy row by row (exit 1 on any difference)\n"
    "  print-env                          the LEAFSYNC_* variables that override settings\n"
    "  --config defaults to config/producer.yaml\n";

struct Args {
  std::string command;
  std::map<std::string, std::string> options;
  bool has(const std::string& name) const { return options.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
};

Args parseArgs(int argc, char** argv) {
  Args args;
  if (argc < 2) throw std::invalid_argument("missing command");
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
    bool is_flag = arg == "--no-relay";
    if (is_flag) {
      args.options[arg] = "1";
    } else if (i + 1 < argc) {
      args.options[arg] = argv[++i];
    } else {
      throw std::invalid_argument(arg + " needs a value");
    }
  }
  return args;
}

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
  ProducerConfig config = loadProducerConfig(args.get("--config", "config/producer.yaml"), processEnvironment());
  setLogLevel(config.log_level);
  ProducerMetrics metrics;
  auto relay = makeRelay(config, metrics);
  ConnectionPool<SourceStore> stores([&config] { return openSourceStore(config.database_url); },
                                     static_cast<std::size_t>(config.http_threads));
  openAtStartup(stores, config.database_url);
  ImageApi api(stores, metrics, config.write_token, static_cast<std::size_t>(config.max_body_bytes),
               [&relay] { relay->notify(); });
  Pistache::Rest::Router router;
  api.registerRoutes(router);
  // Pistache's own limit sits above ours so that we, not it, answer oversized bodies (JSON 413).
  HttpServer server(static_cast<std::uint16_t>(config.http_port), config.http_threads,
                    static_cast<std::size_t>(config.max_body_bytes) + 64 * 1024);
  server.start(router);
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
  ProducerConfig config = loadProducerConfig(args.get("--config", "config/producer.yaml"), processEnvironment());
  setLogLevel(config.log_level);
  LoadOptions options;
  options.rate = std::stod(args.get("--rate", "100"));
  options.duration_s = std::stod(args.get("--duration", "10"));
  options.image_bytes = static_cast<std::size_t>(std::stoul(args.get("--image-bytes", "1024")));
  options.seed = std::stoull(args.get("--seed", std::to_string(nowMicros())));
  parseMix(args.get("--mix", "20:75:5"), options);
  if (options.rate <= 0 || options.duration_s <= 0) throw std::invalid_argument("--rate and --duration must be positive");

  WritingRun run(config, !args.has("--no-relay"));
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
  ProducerConfig config = loadProducerConfig(args.get("--config", "config/producer.yaml"), processEnvironment());
  setLogLevel(config.log_level);
  SnapshotOptions options;
  options.rate = std::stod(args.get("--rate", "1000"));
  if (options.rate <= 0) throw std::invalid_argument("--rate must be positive");
  if (args.has("--plant")) {
    auto plant = parsePlant(args.get("--plant", ""));
    if (!plant) throw std::invalid_argument("--plant must be potato, tomato or pepper");
    options.plants = {*plant};
  }
  WritingRun run(config, !args.has("--no-relay"));
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
  if (!args.has("--source") || !args.has("--copy")) throw std::invalid_argument("verify needs --source URL and --copy URL");
  auto source = openSourceStore(args.get("--source", ""));
  auto copy = openStore(args.get("--copy", ""));
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
  try {
    Args args = parseArgs(argc, argv);
    if (args.command == "serve") return serve(args);
    if (args.command == "load") return load(args);
    if (args.command == "verify") return verify(args);
    if (args.command == "snapshot") return snapshot(args);
    if (args.command == "print-env") {
      for (const auto& e : producerEnvOverrides()) std::cout << e.name << '\t' << e.setting << '\n';
      return 0;
    }
    if (args.command == "--help" || args.command == "-h" || args.command == "help") {
      std::cout << kUsage;
      return 0;
    }
    throw std::invalid_argument("unknown command '" + args.command + "'");
  } catch (const std::invalid_argument& e) {
    std::cerr << "leafsync-producer: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const ConfigError& e) {
    logEvent(LogLevel::Error, "config_error", {{"error", e.what()}});
    return 2;
  } catch (const std::exception& e) {
    logEvent(LogLevel::Error, "failed", {{"error", e.what()}});
    return 1;
  }
}
