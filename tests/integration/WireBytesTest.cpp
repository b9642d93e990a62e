// The wire-byte counters against a real broker: what librdkafka's statistics say a producer put
// on the wire, with and without compression, next to the payload bytes we count ourselves.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "leafsync/KafkaConfig.h"
#include "leafsync/KafkaWireBytes.h"
#include "support/EventBuilder.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using testing::EventBuilder;

struct WireRun {
  std::int64_t payload = 0;
  std::int64_t sent = 0;
};

// 3,000 metadata updates, the stream's commonest event, sent with `compression`.
WireRun sendUpdates(const std::string& compression) {
  const std::string topic = "wire-bytes-" + compression + "-" + std::to_string(::getpid());
  testing::createTopics({topic}, 1);
  const std::string client = "wire-test-" + compression;
  KafkaLogger logger(client);
  auto conf = makeKafkaConf({{"bootstrap.servers", testing::testBootstrap()},
                             {"compression.type", compression},
                             {"statistics.interval.ms", "100"},
                             {"linger.ms", "5"}});
  std::string error;
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&logger), error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  EXPECT_TRUE(producer) << error;

  WireRun run;
  for (int id = 1; id <= 3000; ++id) {
    const std::string key = std::to_string(id);
    const std::string value =
        EventBuilder::update(id, 2).disease("Late blight").percentage(id % 100).active(id % 2 == 0).json();
    run.payload += static_cast<std::int64_t>(key.size() + value.size());
    while (producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                             value.size(), key.data(), key.size(), 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(10);
    }
  }
  EXPECT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  // Statistics come every 100 ms: wait until two reports in a row agree.
  std::int64_t last = -1;
  for (int i = 0; i < 50; ++i) {
    producer->poll(150);
    const std::int64_t now = KafkaWireBytes::process().totals(client).sent;
    if (now == last && now > run.payload / 100) break;
    last = now;
  }
  run.sent = KafkaWireBytes::process().totals(client).sent;
  std::printf("wire bytes, compression %s: %lld sent for %lld payload bytes (%.3f)\n", compression.c_str(),
              static_cast<long long>(run.sent), static_cast<long long>(run.payload),
              static_cast<double>(run.sent) / static_cast<double>(run.payload));
  return run;
}

TEST(WireBytesTest, UncompressedWireBytesExceedThePayload) {
  WireRun run = sendUpdates("none");
  EXPECT_GT(run.sent, run.payload);  // every value as it is, plus the protocol's framing
  EXPECT_LT(run.sent, run.payload * 2);
}

TEST(WireBytesTest, CompressedWireBytesStayBelowTheJsonPayload) {
  for (const std::string compression : {"lz4", "zstd"}) {
    WireRun run = sendUpdates(compression);
    EXPECT_GT(run.sent, 0) << compression;
    EXPECT_LT(run.sent * 2, run.payload) << compression << ": " << run.sent << " wire bytes for " << run.payload
                                         << " payload bytes";
  }
}

}  // namespace
}  // namespace leafsync
