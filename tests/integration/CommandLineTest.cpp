// The three binaries' command lines as a user meets them, run as real processes: --help on
// every subcommand, --version, typed options whose errors name the option, one exit-code
// convention (0 done, 1 the run failed, 2 the command line is wrong), config files with unknown
// keys refused, `verify` refusing stores that are not there or not leafsync's, and the stop of a
// consumer that never reached a broker within the manifests' grace budget.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "leafsync/PostgresConnection.h"
#include "leafsync/SqliteSourceStore.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Outcome {
  int exit_code;
  std::string output;  // stdout and stderr
};

class CommandLineTest : public ::testing::Test {
 protected:
  // Runs `binary args` to its end (at most 30 s).
  Outcome run(const std::string& binary, const std::vector<std::string>& args,
              std::map<std::string, std::string> env = {}) {
    testing::ServiceProcess process(binary, args, dir_.file("run-" + std::to_string(++runs_) + ".log"), std::move(env));
    process.start();
    int code = process.wait(30s);
    return {code, process.log()};
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_.file(name)) << text; }
  // Configs of both services that need no broker to load (nothing answers on port 1).
  void SetUp() override {
    write("kafka.json", R"({"bootstrap.servers":"127.0.0.1:1","group.id":"cli-test"})");
    write("consumer.yaml", "kafka: {properties: kafka.json}\ndatabase: {url: 'sqlite:" + dir_.file("copy.sqlite") +
                               "'}\nhttp: {port: 0}\n");
    write("producer.yaml", "kafka: {properties: kafka.json}\ndatabase: {url: 'sqlite:" + dir_.file("source.sqlite") +
                               "'}\nhttp: {port: 0}\n");
  }

  testing::TempDir dir_;
  int runs_ = 0;
};

const std::string kConsumer = testing::consumerBinary();
const std::string kProducer = testing::producerBinary();
const std::string kBatch = testing::batchSyncBinary();

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ------------------------------------------------------------------ help, version ---

TEST_F(CommandLineTest, EveryProducerSubcommandHasHelp) {
  const std::map<std::string, std::vector<std::string>> flags = {
      {"serve", {"--config"}},
      {"load", {"--config", "--rate", "--duration", "--mix", "--image-bytes", "--seed", "--no-relay"}},
      {"snapshot", {"--config", "--plant", "--rate", "--no-relay"}},
      {"verify", {"--source", "--copy"}},
      {"print-env", {}},
  };
  for (const auto& [command, options] : flags) {
    Outcome o = run(kProducer, {command, "--help"});
    EXPECT_EQ(o.exit_code, 0) << command << " --help: " << o.output;
    EXPECT_TRUE(contains(o.output, "leafsync-producer " + command)) << o.output;
    for (const std::string& option : options) EXPECT_TRUE(contains(o.output, option)) << command << ": " << option;
  }
}

TEST_F(CommandLineTest, EveryBinaryHasHelp) {
  for (const std::string& binary : {kConsumer, kProducer, kBatch}) {
    Outcome o = run(binary, {"--help"});
    EXPECT_EQ(o.exit_code, 0) << binary << ": " << o.output;
    EXPECT_TRUE(contains(o.output, "Usage:")) << o.output;
  }
  EXPECT_TRUE(contains(run(kConsumer, {"-h"}).output, "--print-env"));
  EXPECT_TRUE(contains(run(kProducer, {"help"}).output, "snapshot"));
}

TEST_F(CommandLineTest, EveryBinaryPrintsItsVersionAndCommit) {
  const std::regex version(R"(^leafsync-[a-z-]+ \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n$)");
  for (const std::string& binary : {kConsumer, kProducer, kBatch}) {
    Outcome o = run(binary, {"--version"});
    EXPECT_EQ(o.exit_code, 0) << binary;
    EXPECT_TRUE(std::regex_match(o.output, version)) << o.output;
    EXPECT_TRUE(contains(o.output, fs::path(binary).filename().string() + " ")) << o.output;
  }
}

// ------------------------------------------------------------- usage errors: 2 ---

TEST_F(CommandLineTest, LoadRefusesANonNumericRateNamingTheFlag) {
  Outcome o = run(kProducer, {"load", "--config", dir_.file("producer.yaml"), "--rate", "abc"});
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--rate")) << o.output;
  EXPECT_TRUE(contains(o.output, "abc")) << o.output;
  EXPECT_TRUE(contains(o.output, "leafsync-producer load --help")) << "points at the subcommand's usage: " << o.output;
}

TEST_F(CommandLineTest, LoadRefusesADurationWithTrailingCharacters) {
  Outcome o = run(kProducer, {"load", "--config", dir_.file("producer.yaml"), "--duration", "1x", "--no-relay"});
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--duration")) << o.output;
  EXPECT_FALSE(fs::exists(dir_.file("source.sqlite"))) << "nothing ran";
}

TEST_F(CommandLineTest, OutOfRangeAndMalformedValuesAreUsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"load", "--rate", "0"}, "--rate"},
      {{"load", "--mix", "20:75"}, "--mix"},
      {{"load", "--mix", "20:75:5x"}, "--mix"},
      {{"load", "--image-bytes", "-3"}, "--image-bytes"},
      {{"snapshot", "--plant", "banana"}, "--plant"},
      {{"verify", "--source", "sqlite:a"}, "--copy"},
      {{"serve", "--config"}, "--config"},
      {{"serve", "--colour", "green"}, "--colour"},
      {{"launch"}, "launch"},
      {{}, "subcommand"},
  };
  for (const auto& [args, named] : cases) {
    Outcome o = run(kProducer, args);
    EXPECT_EQ(o.exit_code, 2) << named << ": " << o.output;
    EXPECT_TRUE(contains(o.output, named)) << o.output;
  }
}

TEST_F(CommandLineTest, UnknownOptionsAndBadValuesAreUsageErrorsOnEveryBinary) {
  for (const std::string& binary : {kConsumer, kProducer, kBatch}) {
    Outcome o = run(binary, {"--bogus"});
    EXPECT_EQ(o.exit_code, 2) << binary << ": " << o.output;
    EXPECT_TRUE(contains(o.output, "--bogus")) << o.output;
  }
  Outcome o = run(kBatch, {"--period-s", "10s"});
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--period-s")) << o.output;
  o = run(kBatch, {"--mode", "sometimes"});
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_TRUE(contains(o.output, "--mode")) << o.output;
}

// ------------------------------------------------------------ runtime errors: 1 ---

TEST_F(CommandLineTest, ABadDatabaseUrlIsARuntimeErrorOnBothServices) {
  std::map<std::string, std::string> env = {{"LEAFSYNC_DATABASE_URL", "mysql://db/leafsync"}};
  Outcome consumer = run(kConsumer, {"--config", dir_.file("consumer.yaml")}, env);
  Outcome producer = run(kProducer, {"serve", "--config", dir_.file("producer.yaml")}, env);
  for (const Outcome& o : {consumer, producer}) {
    EXPECT_EQ(o.exit_code, 1) << o.output;
    EXPECT_TRUE(contains(o.output, "unsupported database URL")) << o.output;
    EXPECT_FALSE(contains(o.output, "Usage:")) << "a runtime error, not a usage error: " << o.output;
  }
}

TEST_F(CommandLineTest, UnknownConfigKeysStopBothServicesAtStart) {
  write("consumer.yaml", "kafka: {properties: kafka.json}\napply:\n  batchsize: 10\nhttp: {port: 0}\n");
  write("producer.yaml", "kafka: {properties: kafka.json}\nhttp:\n  port: 0\n  colour: green\n");
  Outcome consumer = run(kConsumer, {"--config", dir_.file("consumer.yaml")});
  EXPECT_EQ(consumer.exit_code, 1) << consumer.output;
  EXPECT_TRUE(contains(consumer.output, "event=config_error")) << consumer.output;
  EXPECT_TRUE(contains(consumer.output, "unknown setting 'apply.batchsize'")) << consumer.output;
  EXPECT_TRUE(contains(consumer.output, "apply.batch_size")) << "suggests the key meant: " << consumer.output;
  Outcome producer = run(kProducer, {"serve", "--config", dir_.file("producer.yaml")});
  EXPECT_EQ(producer.exit_code, 1) << producer.output;
  EXPECT_TRUE(contains(producer.output, "unknown setting 'http.colour'")) << producer.output;
}

// ------------------------------------------------------------------------- verify ---

TEST_F(CommandLineTest, VerifyRefusesStoresThatDoNotExistAndCreatesNone) {
  std::string source = dir_.file("no-source.sqlite");
  std::string copy = dir_.file("no-copy.sqlite");
  Outcome o = run(kProducer, {"verify", "--source", "sqlite:" + source, "--copy", "sqlite:" + copy});
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_TRUE(contains(o.output, source)) << "names what is missing: " << o.output;
  EXPECT_FALSE(contains(o.output, "the copy equals the source")) << o.output;
  EXPECT_FALSE(fs::exists(source));
  EXPECT_FALSE(fs::exists(copy));

  { SqliteSourceStore real(dir_.file("source.sqlite")); }
  o = run(kProducer, {"verify", "--source", "sqlite:" + dir_.file("source.sqlite"), "--copy", copy});
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_TRUE(contains(o.output, copy)) << o.output;
  EXPECT_FALSE(fs::exists(copy)) << "a bare path is a SQLite file too, and is not created either";
}

TEST_F(CommandLineTest, VerifyRefusesSqliteFilesThatAreNotLeafsyncStoresOfTheirKind) {
  { SqliteSourceStore source(dir_.file("source.sqlite")); }
  { SqliteStore copy(dir_.file("copy.sqlite")); }
  write("empty.sqlite", "");
  write("text.sqlite", "not a database at all, just text\n");
  {
    SqliteConnection foreign(dir_.file("foreign.sqlite"));
    foreign.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
  }
  const std::string source = "sqlite:" + dir_.file("source.sqlite");
  const std::string copy = "sqlite:" + dir_.file("copy.sqlite");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sqlite:" + dir_.file("empty.sqlite"), copy},  {source, "sqlite:" + dir_.file("empty.sqlite")},
      {"sqlite:" + dir_.file("text.sqlite"), copy},   {"sqlite:" + dir_.file("foreign.sqlite"), copy},
      {source, "sqlite:" + dir_.file("foreign.sqlite")}, {copy, source},  // each other's kind
  };
  for (const auto& [s, c] : cases) {
    Outcome o = run(kProducer, {"verify", "--source", s, "--copy", c});
    EXPECT_EQ(o.exit_code, 1) << s << " " << c << ": " << o.output;
    EXPECT_TRUE(contains(o.output, "is not a leafsync") || contains(o.output, "not a database")) << o.output;
    EXPECT_FALSE(contains(o.output, "the copy equals the source")) << o.output;
  }
  EXPECT_EQ(fs::file_size(dir_.file("empty.sqlite")), 0u) << "the empty file is left as it was";

  Outcome o = run(kProducer, {"verify", "--source", source, "--copy", copy});
  EXPECT_EQ(o.exit_code, 0) << "two real, empty stores are equal: " << o.output;
  EXPECT_TRUE(contains(o.output, "the copy equals the source")) << o.output;
}

TEST_F(CommandLineTest, VerifyRefusesAPostgresDatabaseWithoutLeafsyncTables) {
  std::string admin_url = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin_url.empty())
  testing::ScratchPostgres empty(admin_url);
  { SqliteStore copy(dir_.file("copy.sqlite")); }
  Outcome o = run(kProducer, {"verify", "--source", empty.url(), "--copy", "sqlite:" + dir_.file("copy.sqlite")});
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_TRUE(contains(o.output, "is not a leafsync source")) << o.output;
  PostgresConnection db(empty.url());
  db.ensureOpen();
  EXPECT_EQ(installedSchemaVersion(db, "source"), 0) << "verify created no schema";
  EXPECT_FALSE(db.execParams("SELECT to_regclass('outbox') IS NOT NULL", PgParams()).getBool(0, 0));

  std::string missing = postgresUrlWithDatabase(admin_url, "leafsync_no_such_db_" + testing::uniqueSuffix());
  o = run(kProducer, {"verify", "--source", missing, "--copy", "sqlite:" + dir_.file("copy.sqlite")});
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_TRUE(contains(o.output, "does not exist")) << o.output;
}

// ---------------------------------------------------------------- stop, no broker ---

// Kubernetes gives the consumer terminationGracePeriodSeconds (15) - preStop (5) = 10 s after
// SIGTERM; scripts/check_manifests.py checks that budget against kafka.first_assignment_wait_ms
// (default 3 s) plus kStopMarginS. A consumer that never reached a broker must stop inside it.
constexpr auto kStopWithoutBrokerBound = 5s;

TEST_F(CommandLineTest, ConsumerWithoutABrokerStopsWithinItsBound) {
  testing::ServiceProcess consumer(kConsumer, {"--config", dir_.file("consumer.yaml")}, dir_.file("consumer.log"));
  consumer.start();
  consumer.waitStarted();
  std::this_thread::sleep_for(1s);  // the consumers are polling, in vain
  std::chrono::milliseconds took{0};
  int code = consumer.terminate(30s, &took);
  std::printf("stop without a broker: %lld ms (bound %lld ms)\n", static_cast<long long>(took.count()),
              static_cast<long long>(std::chrono::milliseconds(kStopWithoutBrokerBound).count()));
  EXPECT_EQ(code, 0) << consumer.log();
  EXPECT_LT(took, kStopWithoutBrokerBound) << consumer.log();
  EXPECT_TRUE(contains(consumer.log(), "event=stopped exit_code=0")) << consumer.log();
}

}  // namespace
}  // namespace leafsync
