// The source database: every write and its change event commit together.

#include <gtest/gtest.h>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteSourceStore.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

class SourceStoreTest : public ::testing::Test {
 protected:
  ChangeEvent decodeOutbox(const OutboxEntry& entry) {
    auto result = codec_.decode(EventCodec::encodeKey(entry.image_id), entry.value);
    if (auto* error = std::get_if<DecodeError>(&result)) ADD_FAILURE() << error->reason;
    return std::get<ChangeEvent>(result);
  }
  NewImage image(std::int64_t camera = 1) { return NewImage{camera, "\xff\xd8 bytes", 48.2, 16.3}; }

  testing::TempDir dir_;
  SqliteSourceStore store_{dir_.file("source.db")};
  EventCodec codec_;
};

TEST_F(SourceStoreTest, IdsAreSequentialPerPlantFromOne) {
  EXPECT_EQ(store_.create(Plant::Potato, image()).id, 1);
  EXPECT_EQ(store_.create(Plant::Potato, image()).id, 2);
  EXPECT_EQ(store_.create(Plant::Tomato, image()).id, 1);
}

TEST_F(SourceStoreTest, IdsOfDeletedImagesAreNeverReused) {
  store_.create(Plant::Potato, image());
  store_.create(Plant::Potato, image());
  store_.remove(Plant::Potato, 2);
  EXPECT_EQ(store_.create(Plant::Potato, image()).id, 3);
}

TEST_F(SourceStoreTest, CreateQueuesAFullStateEvent) {
  ImageRecord created = store_.create(Plant::Pepper, image(9));
  auto pending = store_.pendingEvents(10);
  ASSERT_EQ(pending.size(), 1u);
  ChangeEvent event = decodeOutbox(pending[0]);
  EXPECT_EQ(event.op, Op::Create);
  EXPECT_EQ(event.plant, Plant::Pepper);
  EXPECT_EQ(event.image, created);
}

TEST_F(SourceStoreTest, UpdateQueuesOnlyTheChangedFieldsAndBumpsTheVersion) {
  store_.create(Plant::Potato, image());
  ImageChange change;
  change.id = 1;
  change.fields = kDisease | kPercentage | kCameraId;
  change.values.disease = "Late blight";
  change.values.percentage = 80.0;
  change.values.camera_id = 1;  // unchanged: not in the event
  auto updated = store_.update(Plant::Potato, change);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->version, 2);
  auto pending = store_.pendingEvents(10);
  ASSERT_EQ(pending.size(), 2u);
  ChangeEvent event = decodeOutbox(pending[1]);
  EXPECT_EQ(event.op, Op::Update);
  EXPECT_EQ(event.fields, kDisease | kPercentage | kUpdatedAt);
  EXPECT_EQ(pending[1].value.find("\"data\""), std::string::npos) << "no image bytes in a metadata update";
  EXPECT_EQ(event.image.version, 2);
}

TEST_F(SourceStoreTest, UpdateThatChangesNothingQueuesNothing) {
  store_.create(Plant::Potato, image());
  ImageChange change;
  change.id = 1;
  change.fields = kIsActive;
  change.values.is_active = false;
  EXPECT_EQ(store_.update(Plant::Potato, change)->version, 1);
  EXPECT_EQ(store_.pendingCount(), 1);
}

TEST_F(SourceStoreTest, UpdateOrDeleteOfAMissingImageReportsIt) {
  ImageChange change;
  change.id = 5;
  change.fields = kIsActive;
  EXPECT_FALSE(store_.update(Plant::Potato, change));
  EXPECT_FALSE(store_.remove(Plant::Potato, 5));
  EXPECT_EQ(store_.pendingCount(), 0);
}

TEST_F(SourceStoreTest, DeleteQueuesTheNextVersion) {
  store_.create(Plant::Potato, image());
  EXPECT_EQ(store_.remove(Plant::Potato, 1), 2);
  EXPECT_FALSE(store_.find(Plant::Potato, 1));
  ChangeEvent event = decodeOutbox(store_.pendingEvents(10).at(1));
  EXPECT_EQ(event.op, Op::Delete);
  EXPECT_EQ(event.image.version, 2);
}

TEST_F(SourceStoreTest, SnapshotQueuesEveryLiveRowWithItsCurrentVersion) {
  for (int i = 0; i < 3; ++i) store_.create(Plant::Potato, image());
  store_.remove(Plant::Potato, 2);
  ImageChange change;
  change.id = 3;
  change.fields = kIsActive;
  change.values.is_active = true;
  store_.update(Plant::Potato, change);
  store_.markPublished(store_.pendingEvents(100).back().seq);

  EXPECT_EQ(store_.enqueueSnapshot(Plant::Potato, 0, 10), (std::vector<std::int64_t>{1, 3}));
  auto pending = store_.pendingEvents(10);
  ASSERT_EQ(pending.size(), 2u);
  ChangeEvent row3 = decodeOutbox(pending[1]);
  EXPECT_EQ(row3.op, Op::Snapshot);
  EXPECT_EQ(row3.image.version, 2);
  EXPECT_EQ(row3.image, *store_.find(Plant::Potato, 3));
  EXPECT_EQ(store_.enqueueSnapshot(Plant::Potato, 3, 10).size(), 0u);
}

TEST_F(SourceStoreTest, PublishedEventsLeaveTheOutboxInCommitOrder) {
  for (int i = 0; i < 5; ++i) store_.create(Plant::Potato, image());
  auto first = store_.pendingEvents(3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_LT(first[0].seq, first[1].seq);
  store_.markPublished(first.back().seq);
  auto rest = store_.pendingEvents(10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].image_id, 4);
}

}  // namespace
}  // namespace leafsync
