// `--describe` of the three binaries, run as real processes: the JSON parses and names the
// probes and metrics among its routes; every GET route it lists is one the running server
// answers (and a path it does not list is not); the variable it names for the HTTP port moves
// the port the server binds. scripts/check_manifests.py reads this JSON (docs/cli.md).

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/ScriptedServer.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

const std::string kConsumer = testing::consumerBinary();
const std::string kProducer = testing::producerBinary();
const std::string kBatch = testing::batchSyncBinary();

class DescribeTest : public ::testing::Test {
 protected:
  // Configs that need no broker to load and serve (nothing answers on port 1).
  void SetUp() override {
    write("kafka.json", R"({"bootstrap.servers":"127.0.0.1:1","group.id":"describe-test"})");
    write("consumer.yaml", "kafka: {properties: kafka.json}\ndatabase: {url: 'sqlite:" + dir_.file("copy.sqlite") + "'}\n");
    write("producer.yaml", "kafka: {properties: kafka.json}\ndatabase: {url: 'sqlite:" + dir_.file("source.sqlite") + "'}\n");
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_.file(name)) << text; }

  nlohmann::json describe(const std::string& binary) {
    testing::ServiceProcess process(binary, {"--describe"}, dir_.file("describe-" + std::to_string(++runs_) + ".json"));
    process.start();
    EXPECT_EQ(process.wait(20s), 0) << process.log();
    return nlohmann::json::parse(process.log());  // throws, failing the test, when it is not JSON
  }

  // Starts `binary args` with the HTTP port set through the variable --describe names for it,
  // to a port nothing else listens on; returns the port the server logged it bound.
  std::uint16_t startOnDescribedPort(testing::ServiceProcess*& out, const std::string& binary,
                                     const std::vector<std::string>& args, const nlohmann::json& d,
                                     std::uint16_t wanted) {
    std::string var = d["http"]["port"]["env"];
    processes_.push_back(std::make_unique<testing::ServiceProcess>(
        binary, args, dir_.file("serve-" + std::to_string(++runs_) + ".log"),
        std::map<std::string, std::string>{{var, std::to_string(wanted)}}));
    out = processes_.back().get();
    out->start();
    return out->waitStarted();
  }

  testing::TempDir dir_;
  int runs_ = 0;
  std::vector<std::unique_ptr<testing::ServiceProcess>> processes_;
};

bool listsGet(const nlohmann::json& d, const std::string& path) {
  for (const nlohmann::json& r : d["http"]["routes"]) {
    if (r["path"] == path) {
      for (const nlohmann::json& m : r["methods"]) {
        if (m == "GET") return true;
      }
    }
  }
  return false;
}

// A concrete path for a route template: /image-plant/:plant/:id -> /image-plant/potato/1.
std::string concrete(const std::string& path) {
  return std::regex_replace(std::regex_replace(path, std::regex(":plant"), "potato"), std::regex(":id"), "1");
}

// Pistache's router answered the path with a route of its own, not the not-found handler.
bool routed(const testing::HttpResponse& r) { return r.status != 0 && r.body.find("no route for") == std::string::npos; }

TEST_F(DescribeTest, EachBinaryPrintsJsonNamingItsProbesAndMetricsAmongItsRoutes) {
  for (const auto& [binary, name] : {std::pair{kConsumer, "leafsync-consumer"}, std::pair{kProducer, "leafsync-producer"},
                                     std::pair{kBatch, "leafsync-batch-sync"}}) {
    nlohmann::json d = describe(binary);
    EXPECT_EQ(d["binary"], name);
    EXPECT_FALSE(d["env"].empty()) << name;
    const nlohmann::json& http = d["http"];
    EXPECT_TRUE(listsGet(d, http["probes"]["liveness"])) << name << " " << http.dump();
    EXPECT_TRUE(listsGet(d, http["probes"]["readiness"])) << name;
    EXPECT_TRUE(listsGet(d, http["metrics"]["path"])) << name;
    EXPECT_TRUE(http["port"]["default"].is_number_integer()) << name;
    for (const nlohmann::json& e : d["env"]) EXPECT_EQ(e["name"].get<std::string>().rfind("LEAFSYNC_", 0), 0u) << e.dump();
  }
}

TEST_F(DescribeTest, EveryGetRouteTheProducerListsIsAnsweredOnThePortItsVariableSets) {
  nlohmann::json d = describe(kProducer);
  ASSERT_EQ(d["http"]["command"], "serve");
  testing::ServiceProcess* producer = nullptr;
  std::uint16_t wanted = testing::freePortPair();
  std::uint16_t port = startOnDescribedPort(producer, kProducer, {"serve", "--config", dir_.file("producer.yaml")}, d, wanted);
  EXPECT_EQ(port, wanted) << "the variable " << d["http"]["port"]["env"] << " did not move the port";
  int answered = 0;
  for (const nlohmann::json& r : d["http"]["routes"]) {
    if (!listsGet(d, r["path"])) continue;
    testing::HttpResponse response = testing::httpRequest(port, "GET", concrete(r["path"]));
    EXPECT_TRUE(routed(response)) << r["path"] << " -> " << response.status << " " << response.body;
    ++answered;
  }
  EXPECT_GE(answered, 10);
  EXPECT_EQ(testing::httpRequest(port, "GET", d["http"]["probes"]["liveness"].get<std::string>()).status, 200);
  // A path it does not list is not served.
  testing::HttpResponse unlisted = testing::httpRequest(port, "GET", "/batch-status");
  EXPECT_FALSE(listsGet(d, "/batch-status"));
  EXPECT_FALSE(routed(unlisted)) << unlisted.status << " " << unlisted.body;
  EXPECT_EQ(producer->terminate(20s), 0) << producer->log();
}

TEST_F(DescribeTest, EveryGetRouteTheConsumerListsIsAnsweredOnThePortItsVariableSets) {
  nlohmann::json d = describe(kConsumer);
  testing::ServiceProcess* consumer = nullptr;
  std::uint16_t wanted = testing::freePortPair();
  std::uint16_t port = startOnDescribedPort(consumer, kConsumer, {"--config", dir_.file("consumer.yaml")}, d, wanted);
  EXPECT_EQ(port, wanted) << "the variable " << d["http"]["port"]["env"] << " did not move the port";
  for (const nlohmann::json& r : d["http"]["routes"]) {
    if (!listsGet(d, r["path"])) continue;
    testing::HttpResponse response = testing::httpRequest(port, "GET", concrete(r["path"]));
    EXPECT_TRUE(routed(response)) << r["path"] << " -> " << response.status << " " << response.body;
  }
  // Alive without a broker, not ready: the probes answer what the manifests expect of them.
  EXPECT_EQ(testing::httpRequest(port, "GET", d["http"]["probes"]["liveness"].get<std::string>()).status, 200);
  EXPECT_EQ(testing::httpRequest(port, "GET", d["http"]["probes"]["readiness"].get<std::string>()).status, 503);
  EXPECT_FALSE(routed(testing::httpRequest(port, "GET", "/readyzz")));
  EXPECT_EQ(consumer->terminate(20s), 0) << consumer->log();
}

TEST_F(DescribeTest, EveryGetRouteTheBatchJobListsIsAnsweredOnThePortItsVariableSets) {
  nlohmann::json d = describe(kBatch);
  EXPECT_TRUE(d["config"].is_null());
  EXPECT_EQ(d["http"]["port"]["option"], "--http-port");
  testing::ServiceProcess* batch = nullptr;
  std::uint16_t wanted = testing::freePortPair();
  std::uint16_t port = startOnDescribedPort(
      batch, kBatch, {"--source", "sqlite:" + dir_.file("source.sqlite"), "--copy", "sqlite:" + dir_.file("batch.sqlite")}, d, wanted);
  EXPECT_EQ(port, wanted);
  for (const nlohmann::json& r : d["http"]["routes"]) {
    if (!listsGet(d, r["path"])) continue;
    testing::HttpResponse response = testing::httpRequest(port, "GET", concrete(r["path"]));
    EXPECT_TRUE(routed(response)) << r["path"] << " -> " << response.status << " " << response.body;
  }
  EXPECT_EQ(batch->terminate(20s), 0) << batch->log();
}

}  // namespace
}  // namespace leafsync
