// The partitions of one topic are applied in parallel, each in its own order: a partition
// stuck on the database holds up no other. Needs LEAFSYNC_TEST_POSTGRES_URL (SQLite has one
// writer at a time, so only a server database can show it).

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "leafsync/EventCodec.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/SqliteImageRow.h"
#include "support/ConsumerProcess.h"
#include "support/EventBuilder.h"
#include "support/KafkaTestKit.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;

TEST(ParallelApplyTest, APartitionBlockedInTheDatabaseHoldsUpNoOtherPartition) {
  std::string admin_url = testing::postgresTestUrl();
  LEAFSYNC_POSTGRES_OR_SKIP(admin_url.empty())
  testing::ScratchPostgres database(admin_url);
  testing::TempDir dir;
  testing::ConsumerSetup setup(dir);
  const std::string topic = setup.topic(Plant::Potato);
  constexpr std::int64_t kImages = 60;
  testing::TestProducer producer;
  auto publish = [&](const ChangeEvent& e) {
    producer.send(topic, EventCodec::encodeKey(e.image.id), EventCodec::encode(e));
  };
  for (std::int64_t id = 1; id <= kImages; ++id) publish(EventBuilder::create(id, 1));
  producer.flush();

  // Where each image's events go, and how many messages each partition holds so far.
  std::map<std::int64_t, std::int32_t> partition_of;
  std::map<std::int32_t, std::int64_t> end;
  for (const testing::ReadMessage& m : testing::readTopic(topic, kImages, 30s)) {
    partition_of[std::stoll(m.key)] = m.partition;
    end[m.partition] = m.offset + 1;
  }
  ASSERT_EQ(end.size(), 3u) << "every partition holds some of the images";

  testing::ConsumerProcess consumer(setup, dir.file("consumer.log"),
                                    {{"LEAFSYNC_DATABASE_URL", database.url()}, {"LEAFSYNC_BATCH_SIZE", "10"}});
  consumer.start();
  PostgresStore copy(database.url());
  auto offsets = [&] {
    std::map<std::int32_t, std::int64_t> next;
    for (const PartitionOffset& o : copy.offsets()) {
      if (o.topic == topic) next[o.partition] = o.next_offset;
    }
    return next;
  };
  ASSERT_TRUE(testing::eventually([&] { return offsets() == end; }, 60s)) << consumer.log();

  // Another session holds image 1's row: its partition's next update has to wait for it.
  const std::int32_t blocked = partition_of.at(1);
  PostgresConnection locker(database.url());
  locker.ensureOpen();
  locker.exec("BEGIN");
  locker.exec("SELECT id FROM " + imageTable(Plant::Potato) + " WHERE id = 1 FOR UPDATE");

  for (std::int64_t id = 1; id <= kImages; ++id) {
    publish(EventBuilder::update(id, 2).disease("Early blight"));
    ++end[partition_of.at(id)];
  }
  producer.flush();

  auto others_done = [&] {
    auto next = offsets();
    for (const auto& [partition, last] : end) {
      if (partition != blocked && next[partition] != last) return false;
    }
    return true;
  };
  EXPECT_TRUE(testing::eventually(others_done, 60s))
      << "the partitions without the locked row applied their updates\n" << consumer.log();
  EXPECT_LT(offsets()[blocked], end[blocked]) << "the locked row's partition waits for the lock";
  EXPECT_EQ(copy.versionOf(Plant::Potato, 1), 1);

  locker.exec("ROLLBACK");
  EXPECT_TRUE(testing::eventually([&] { return offsets() == end; }, 60s)) << consumer.log();
  for (std::int64_t id = 1; id <= kImages; ++id) {
    EXPECT_EQ(copy.versionOf(Plant::Potato, id), 2) << "image " << id;
  }
  EXPECT_EQ(consumer.terminate(20s), 0) << consumer.log();
}

}  // namespace
}  // namespace leafsync
