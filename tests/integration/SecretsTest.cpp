// Secrets never reach a log: the consumer, the producer and the batch job run against PostgreSQL
// URLs that carry a known password, a write carries a known bearer token, and failures (a
// database that is not there) are logged — then no line any of them wrote holds either secret.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/ConsumerProcess.h"
#include "support/HttpClient.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;

const std::string kPassword = "pw-Zq8vX2kTr5";
const std::string kToken = "tok-Hn4pW9cLm7";

// `url` (postgresql://user@host...) with kPassword in its userinfo. The test PostgreSQL trusts
// loopback, so libpq is handed the password and the connection still succeeds: exactly what a
// service would have to log were it careless.
std::string withPassword(const std::string& url) {
  std::size_t at = url.find('@');
  EXPECT_NE(at, std::string::npos) << url;
  return url.substr(0, at) + ":" + kPassword + url.substr(at);
}

std::string fileText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string batchBinary() {
  std::string producer = testing::producerBinary();
  return producer.substr(0, producer.find_last_of('/') + 1) + "leafsync-batch-sync";
}

testing::HttpResponse writeWithToken(std::uint16_t port, const std::string& token) {
  std::string body = R"({"camera_id":3,"gps_coordinates":[47.07,15.44]})";
  std::string request = "PUT /image-plant/potato/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Authorization: Bearer " + token + "\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  return testing::httpRaw(port, request, 15s);
}

TEST(SecretsTest, NoPasswordOrTokenAppearsInAnyLogLine) {
  std::string admin = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin.empty())
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  testing::ScratchPostgres source(admin);
  testing::ScratchPostgres copy(admin);
  const std::string nowhere = "postgresql://leafsync:" + kPassword + "@127.0.0.1:1/nowhere";
  std::vector<std::string> logs;
  auto logFile = [&](const std::string& name) {
    logs.push_back(dir.file(name));
    return logs.back();
  };

  testing::ProducerProcess producer(setup, logFile("producer.log"),
                                    {{"LEAFSYNC_DATABASE_URL", withPassword(source.url())},
                                     {"LEAFSYNC_WRITE_TOKEN", kToken}});
  producer.start();
  std::uint16_t producer_port = producer.waitStarted();
  EXPECT_EQ(writeWithToken(producer_port, kToken).status, 200) << producer.log();
  EXPECT_EQ(writeWithToken(producer_port, kToken + "-wrong").status, 401);

  testing::ConsumerProcess consumer(setup, logFile("consumer.log"),
                                    {{"LEAFSYNC_DATABASE_URL", withPassword(copy.url())},
                                     {"LEAFSYNC_PRODUCER_URL", "http://127.0.0.1:" + std::to_string(producer_port)}});
  consumer.start();
  std::uint16_t consumer_port = consumer.waitStarted();
  EXPECT_EQ(writeWithToken(consumer_port, kToken).status, 200) << "forwarded with the token: " << consumer.log();

  // The failure path: a consumer whose database is not there logs its connection errors.
  testing::ConsumerProcess lost(setup, logFile("lost-consumer.log"), {{"LEAFSYNC_DATABASE_URL", nowhere}});
  lost.start();
  EXPECT_TRUE(testing::eventually([&] { return lost.log().find("127.0.0.1:1") != std::string::npos; }, 20s, 50ms))
      << "the connection error is logged, naming where: " << lost.log();

  testing::ServiceProcess batch(batchBinary(),
                                {"--source", withPassword(source.url()), "--copy",
                                 "sqlite:" + dir.file("batch_copy.sqlite"), "--period-s", "600", "--http-port", "0"},
                                logFile("batch.log"));
  batch.start();
  batch.waitStarted();
  testing::ServiceProcess lost_batch(batchBinary(),
                                     {"--source", nowhere, "--copy", "sqlite:" + dir.file("lost_copy.sqlite"),
                                      "--period-s", "600", "--http-port", "0"},
                                     logFile("lost-batch.log"));
  lost_batch.start();
  EXPECT_TRUE(testing::eventually([&] { return lost_batch.log().find("127.0.0.1:1") != std::string::npos; }, 20s, 50ms))
      << "the batch job's connection error is logged: " << lost_batch.log();

  lost_batch.terminate(10s);
  batch.terminate(10s);
  lost.terminate(10s);
  consumer.terminate(20s);
  producer.terminate(20s);
  for (const std::string& path : logs) {
    std::istringstream lines(fileText(path));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      EXPECT_EQ(line.find(kPassword), std::string::npos) << path << ": " << line;
      EXPECT_EQ(line.find(kToken), std::string::npos) << path << ": " << line;
    }
    EXPECT_GT(n, 0) << path << " is empty: nothing was checked";
  }
}

}  // namespace
}  // namespace leafsync
