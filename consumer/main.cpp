// leafsync-consumer: Kafka change events → the copy (consumer_plant_db) + the read API.

#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include <curl/curl.h>

#include "GroupConsumer.h"
#include "KafkaDeadLetterProducer.h"
#include "MemoryPlan.h"
#include "leafsync/MallocTuning.h"
#include "ReadApi.h"
#include "SyncStatus.h"
#include "leafsync/CommandLine.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/ExitDeadline.h"
#include "leafsync/HttpServer.h"
#include "leafsync/Log.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/StopSignals.h"

namespace {

constexpr std::size_t kMaxRequestBytes = 1 << 20;

int run(const std::string& config_path, leafsync::StopSignals& stop) {
  using namespace leafsync;
  ExitDeadline teardown;  // first: destroyed after everything it bounds
  ConsumerConfig config = loadConsumerConfig(config_path, processEnvironment());
  setLogLevel(config.log_level);

  std::vector<std::string> topic_names;
  for (const TopicConfig& t : config.topics) topic_names.push_back(t.name);
  // Under a budget, malloc's free pages go back to the system twice a second
  // (releaseFreeMemory); a mapping per large block would also do it, but costs a page fault
  // and a zeroed page per 4 KiB of every fetch, batch and statement (bench/peer, budget 64:
  // 1.22 CPU s and 4,117 msg/s with them, 0.76 and 9,136 without).
  if (config.memory_budget_mb == 0) mapLargeBlocks();
  if (config.memory_budget_mb > 0) {
    limitMallocArenas();
    // Planned for every partition of the topics: the most this process can be assigned.
    MemoryPlan plan = planMemory(config.memory_budget_mb, countPartitions(config.kafka, topic_names, 12));
    plan.applyTo(config);
    logEvent(LogLevel::Info, "memory_plan",
             {{"budget_mb", config.memory_budget_mb}, {"partitions", plan.partitions},
              {"queued.max.messages.kbytes", config.kafka.at("queued.max.messages.kbytes")},
              {"max.partition.fetch.bytes", config.kafka.at("max.partition.fetch.bytes")},
              {"fetch.max.bytes", config.kafka.at("fetch.max.bytes")},
              {"fetch.wait.max.ms", config.kafka.at("fetch.wait.max.ms")},
              {"batch_max_bytes", config.batch_max_bytes}});
  }
  ConsumerMetrics metrics(topic_names);
  // librdkafka's default session.timeout.ms is 45000; a value it refuses fails the consumer's
  // creation below with librdkafka's own message.
  auto session = config.kafka.find("session.timeout.ms");
  std::int64_t session_timeout_ms = session == config.kafka.end() ? 45000 : std::strtoll(session->second.c_str(), nullptr, 10);
  SyncStatus status(static_cast<std::int64_t>(config.stall_after_s) * 1000, session_timeout_ms);
  FatalHandler fatal = [&stop](const std::string& reason) { stop.fail(reason); };

  // Connections to the copy for the partition appliers and offset reads; the read API has
  // its own, so a burst of requests never waits for an applier's connection.
  auto open = [&config] { return openStore(config.database_url); };
  ConnectionPool<Store> copy(open, 64);
  ConnectionPool<Store> stores(open, static_cast<std::size_t>(config.http_threads));
  openAtStartup(copy, config.database_url);

  KafkaDeadLetterProducer dead_letters(config.kafka, config.dead_letter_topic, fatal);
  // One Kafka consumer for every topic: one group member, one fetch long poll.
  GroupConsumer consumer(config, copy, dead_letters, metrics, status, fatal);

  std::unique_ptr<WriteForwarder> forwarder;
  if (!config.producer_url.empty()) {
    forwarder = std::make_unique<WriteForwarder>(config.producer_url, std::chrono::milliseconds(10000));
  }
  ReadApi api(stores, metrics, status, topic_names, forwarder.get(), std::chrono::milliseconds(config.write_wait_ms), config.ready_max_lag);
  RouteTable routes;
  api.registerRoutes(routes, config.read_limits);
  HttpServer server(static_cast<std::uint16_t>(config.http_port), config.http_threads, kMaxRequestBytes,
                    metrics.registry());
  server.start(routes);

  consumer.start();
  logEvent(LogLevel::Info, "started",
           {{"http_port", server.port()}, {"topics", topic_names.size()},
            {"database", redactUrl(config.database_url)}, {"batch_size", config.batch_size},
            {"linger_ms", config.linger_ms}, {"stall_after_s", config.stall_after_s}});

  std::optional<std::string> failure = stop.wait();
  if (failure) {
    logEvent(LogLevel::Error, "fatal", {{"reason", *failure}});
  } else {
    logEvent(LogLevel::Info, "stopping", {{"signal", stop.signalName()}});
  }
  api.stopWrites();
  consumer.requestStop();
  consumer.join();
  int exit_code = failure ? 1 : 0;
  logEvent(failure ? LogLevel::Error : LogLevel::Info, "stopped", {{"exit_code", exit_code}});
  // The destructors below: the consumer's librdkafka handle (which can hang, ExitDeadline),
  // then the dead-letter producer's flush (up to 5 s).
  teardown.arm(exit_code, std::chrono::seconds(10));
  return exit_code;
}

// The routes the server registers, from the same ReadApi::registerRoutes, on an API that never
// runs: no database is opened (the pool opens lazily) and no handler is called.
nlohmann::json describeHttp(const nlohmann::json& settings) {
  using namespace leafsync;
  ConnectionPool<Store> no_copy([]() -> std::unique_ptr<Store> { throw std::logic_error("--describe opens no store"); }, 0);
  ConsumerMetrics metrics(std::vector<std::string>{});
  SyncStatus status(0);
  ReadApi api(no_copy, metrics, status, {}, nullptr, std::chrono::milliseconds(0), 0);
  RouteTable routes;
  api.registerRoutes(routes, ReadLimits{});
  return routes.describe(describeSettingSource(settings, "http.port"), "");
}

}  // namespace

int main(int argc, char** argv) {
  // Blocks the stop signals before any thread starts, so only stop.wait() sees them.
  leafsync::StopSignals stop;

  CLI::App app("leafsync-consumer: Kafka change events -> the copy (consumer_plant_db) + the read API.\n"
               "Every setting of the YAML file can be overridden by a LEAFSYNC_* variable (--print-env).",
               "leafsync-consumer");
  leafsync::configureApp(app, "leafsync-consumer");
  std::string config_path = "config/consumer.yaml";
  bool print_env = false;
  bool describe = false;
  app.add_option("--config", config_path, "service settings (YAML)")->type_name("PATH")->capture_default_str();
  app.add_flag("--print-env", print_env, "list the LEAFSYNC_* variables that override settings, then exit");
  app.add_flag(leafsync::kDescribeFlag, describe, leafsync::kDescribeHelp);
  if (auto code = leafsync::parseCommandLine(app, argc, argv)) return *code;
  if (describe) {
    nlohmann::json settings = leafsync::describeConsumerSettings();
    nlohmann::json config = {{"option", "--config"}, {"default_file", app.get_option("--config")->get_default_str()}, {"keys", settings["keys"]}};
    std::cout << leafsync::describeBinary("leafsync-consumer", app, config, settings["env"], describeHttp(settings));
    return 0;
  }
  if (print_env) {
    for (const auto& e : leafsync::consumerEnvOverrides()) std::cout << e.name << '\t' << e.setting << '\n';
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return leafsync::runLogged([&] { return run(config_path, stop); });
}
