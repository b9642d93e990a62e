// The apply rules of the copy, run against every Store implementation.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "leafsync/SqliteStore.h"
#include "leafsync/StoreFactory.h"
#include "support/EventBuilder.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using testing::EventBuilder;

class StoreBehaviour : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { store_ = openStore("sqlite:" + dir_.file("copy.db")); }

  ApplyCounts apply(std::vector<ChangeEvent> events, std::vector<PartitionOffset> offsets = {}) {
    return store_->applyBatch(events, offsets);
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreBehaviour, CreateMakesTheImageReadable) {
  ChangeEvent create = EventBuilder::create(1, 1).disease("Healthy").percentage(0.5);
  auto counts = apply({create});
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Create)], 1);
  auto found = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, create.image);
  EXPECT_EQ(store_->count(Plant::Potato), 1);
  EXPECT_FALSE(store_->find(Plant::Tomato, 1)) << "plants are separate";
}

TEST_P(StoreBehaviour, UpdateChangesOnlyTheFieldsItCarries) {
  ChangeEvent create = EventBuilder::create(1, 1).camera(3).data("original bytes");
  apply({create, EventBuilder::update(1, 2).disease("Late blight").percentage(42.0)});
  auto found = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->disease, "Late blight");
  EXPECT_EQ(found->percentage, 42.0);
  EXPECT_EQ(found->camera_id, 3);
  EXPECT_EQ(found->data, "original bytes");
  EXPECT_EQ(found->version, 2);
}

TEST_P(StoreBehaviour, UpdateCanClearANullableField) {
  apply({EventBuilder::create(1, 1).disease("Healthy"), EventBuilder::update(1, 2).disease(std::nullopt)});
  EXPECT_FALSE(store_->find(Plant::Potato, 1)->disease);
}

TEST_P(StoreBehaviour, OlderVersionArrivingLateChangesNothing) {
  apply({EventBuilder::create(1, 1), EventBuilder::update(1, 3).disease("newest")});
  auto counts = apply({EventBuilder::update(1, 2).disease("older")});
  EXPECT_EQ(counts.stale, 1);
  EXPECT_EQ(counts.appliedTotal(), 0);
  EXPECT_EQ(store_->find(Plant::Potato, 1)->disease, "newest");
  EXPECT_EQ(store_->find(Plant::Potato, 1)->version, 3);
}

TEST_P(StoreBehaviour, DuplicateBatchChangesNothing) {
  std::vector<ChangeEvent> batch = {EventBuilder::create(1, 1), EventBuilder::create(2, 1),
                                    EventBuilder::update(1, 2).active(true),
                                    EventBuilder::remove(2, 2)};
  apply(batch);
  auto before = store_->find(Plant::Potato, 1);
  auto counts = apply(batch);
  EXPECT_EQ(counts.appliedTotal(), 0);
  EXPECT_EQ(counts.stale, 4);
  EXPECT_EQ(store_->find(Plant::Potato, 1), before);
  EXPECT_FALSE(store_->find(Plant::Potato, 2));
}

TEST_P(StoreBehaviour, DeleteHidesTheImageFromReadsAndTotals) {
  apply({EventBuilder::create(1, 1), EventBuilder::create(2, 1), EventBuilder::remove(1, 2)});
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
  EXPECT_EQ(store_->count(Plant::Potato), 1);
  auto listed = store_->list(Plant::Potato, 0, 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, 2);
}

TEST_P(StoreBehaviour, ReplayedCreateCannotResurrectADeletedImage) {
  apply({EventBuilder::create(1, 1), EventBuilder::remove(1, 2)});
  auto counts = apply({EventBuilder::create(1, 1), EventBuilder::update(1, 2).active(true)});
  EXPECT_EQ(counts.stale, 2);
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
  EXPECT_EQ(store_->versionOf(Plant::Potato, 1), 2) << "the tombstone keeps the delete's version";
}

TEST_P(StoreBehaviour, DeleteOfAnUnseenImageStillLeavesATombstone) {
  apply({EventBuilder::remove(5, 3)});
  auto counts = apply({EventBuilder::create(5, 1)});
  EXPECT_EQ(counts.stale, 1);
  EXPECT_FALSE(store_->find(Plant::Potato, 5));
}

TEST_P(StoreBehaviour, UpdateOfAMissingRowIsCountedNotApplied) {
  auto counts = apply({EventBuilder::update(9, 2).disease("Healthy")});
  EXPECT_EQ(counts.missing_row, 1);
  EXPECT_EQ(counts.appliedTotal(), 0);
  EXPECT_FALSE(store_->find(Plant::Potato, 9));
  EXPECT_EQ(store_->versionOf(Plant::Potato, 9), 0);
}

TEST_P(StoreBehaviour, UpdateOfADeletedRowIsCountedNotApplied) {
  apply({EventBuilder::create(1, 1), EventBuilder::remove(1, 2)});
  auto counts = apply({EventBuilder::update(1, 3).active(true)});
  EXPECT_EQ(counts.deleted_row, 1);
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
}

TEST_P(StoreBehaviour, SnapshotReplacesOnlyOlderState) {
  apply({EventBuilder::create(1, 1), EventBuilder::update(1, 3).disease("live change")});
  auto counts = apply({EventBuilder::snapshot(1, 2), EventBuilder::snapshot(2, 5)});
  EXPECT_EQ(counts.stale, 1);
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Snapshot)], 1);
  EXPECT_EQ(store_->find(Plant::Potato, 1)->disease, "live change");
  EXPECT_TRUE(store_->find(Plant::Potato, 2));
}

TEST_P(StoreBehaviour, OutcomesFollowBatchOrder) {
  auto counts = apply({EventBuilder::create(1, 1), EventBuilder::create(1, 1),
                       EventBuilder::update(2, 2).active(true)});
  EXPECT_EQ(counts.outcomes, (std::vector<ApplyOutcome>{ApplyOutcome::Applied, ApplyOutcome::Stale,
                                                        ApplyOutcome::MissingRow}));
}

TEST_P(StoreBehaviour, OffsetsAreStoredWithTheirBatch) {
  EXPECT_FALSE(store_->nextOffset("potato", 0));
  apply({EventBuilder::create(1, 1)}, {{"potato", 0, 11}, {"potato", 2, 4}});
  EXPECT_EQ(store_->nextOffset("potato", 0), 11);
  EXPECT_EQ(store_->nextOffset("potato", 2), 4);
  EXPECT_FALSE(store_->nextOffset("potato", 1));
  EXPECT_EQ(store_->offsets().size(), 2u);
}

TEST_P(StoreBehaviour, OffsetsNeverMoveBackwards) {
  apply({}, {{"potato", 0, 11}});
  apply({}, {{"potato", 0, 7}});
  EXPECT_EQ(store_->nextOffset("potato", 0), 11);
}

TEST_P(StoreBehaviour, ListingPagesInIdOrder) {
  std::vector<ChangeEvent> creates;
  for (int id = 1; id <= 5; ++id) creates.push_back(EventBuilder::create(id, 1));
  apply(creates);
  auto first = store_->list(Plant::Potato, 0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].id, 2);
  auto rest = store_->list(Plant::Potato, 2, 10);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id, 3);
}

TEST_P(StoreBehaviour, AnotherConnectionSeesCommittedBatches) {
  apply({EventBuilder::create(1, 1)}, {{"potato", 1, 1}});
  auto reader = openStore("sqlite:" + dir_.file("copy.db"));
  EXPECT_TRUE(reader->find(Plant::Potato, 1));
  EXPECT_EQ(reader->nextOffset("potato", 1), 1);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreBehaviour, ::testing::Values("sqlite"));

TEST(SqliteStore, AFailedBatchLeavesNeitherRowsNorOffsets) {
  testing::TempDir dir;
  SqliteStore store(dir.file("copy.db"));
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("copy.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "CREATE TRIGGER fail_on_999 BEFORE INSERT ON image_potato WHEN NEW.id = 999 "
                           "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  SqliteStore fresh(dir.file("copy.db"));  // prepares statements against the new trigger
  std::vector<ChangeEvent> batch = {EventBuilder::create(1, 1), EventBuilder::create(999, 1)};
  EXPECT_THROW(fresh.applyBatch(batch, {{"potato", 0, 2}}), StoreError);
  EXPECT_FALSE(fresh.find(Plant::Potato, 1));
  EXPECT_FALSE(fresh.nextOffset("potato", 0));
  // The connection stays usable after the rollback.
  fresh.applyBatch({EventBuilder::create(1, 1)}, {{"potato", 0, 1}});
  EXPECT_TRUE(fresh.find(Plant::Potato, 1));
}

}  // namespace
}  // namespace leafsync
