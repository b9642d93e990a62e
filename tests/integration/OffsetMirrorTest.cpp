// Kafka's committed offsets are only a mirror of the copy's (for tools such as
// kafka-consumer-groups); the consumer commits them in the background twice a second rather
// than once per batch, and once more before it leaves the group.

#include <gtest/gtest.h>

#include <map>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteStore.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/KafkaTestKit.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;

// The group's committed offsets of `topic` as the broker holds them (OffsetFetch; the client
// does not join the group).
std::map<std::int32_t, std::int64_t> groupOffsets(const std::string& group, const std::string& topic, int partitions) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", testing::testBootstrap(), error);
  conf->set("group.id", group, error);
  std::unique_ptr<RdKafka::KafkaConsumer> client(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!client) throw std::runtime_error("offset reader: " + error);
  std::vector<RdKafka::TopicPartition*> list;
  for (int p = 0; p < partitions; ++p) list.push_back(RdKafka::TopicPartition::create(topic, p));
  std::map<std::int32_t, std::int64_t> offsets;
  if (client->committed(list, 10000) == RdKafka::ERR_NO_ERROR) {
    for (const RdKafka::TopicPartition* tp : list) {
      if (tp->offset() >= 0) offsets[tp->partition()] = tp->offset();
    }
  }
  RdKafka::TopicPartition::destroy(list);
  client->close();
  return offsets;
}

TEST(OffsetMirrorTest, KafkasCommittedOffsetsEqualTheCopysOnceTheConsumerStopped) {
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  const std::string topic = setup.topic(Plant::Potato);
  constexpr std::int64_t kImages = 300;
  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"));
  consumer.start();
  ASSERT_TRUE(consumer.waitReady()) << consumer.log();
  testing::TestProducer producer;
  for (std::int64_t id = 1; id <= kImages; ++id) {
    producer.send(topic, EventCodec::encodeKey(id), EventCodec::encode(EventBuilder::create(id, 1)));
  }
  producer.flush();
  ASSERT_TRUE(testing::eventually([&] { return testing::committedEvents("sqlite:" + setup.database_path) == kImages; },
                                  60s))
      << consumer.log();
  ASSERT_EQ(consumer.terminate(20s), 0) << consumer.log();

  std::map<std::int32_t, std::int64_t> copy_offsets;
  SqliteStore copy(setup.database_path);
  for (const PartitionOffset& o : copy.offsets()) {
    if (o.topic == topic) copy_offsets[o.partition] = o.next_offset;
  }
  EXPECT_EQ(groupOffsets(setup.group, topic, 3), copy_offsets);
}

}  // namespace
}  // namespace leafsync
