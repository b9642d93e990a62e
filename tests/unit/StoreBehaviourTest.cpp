// The apply rules of the copy, run against every Store implementation: SQLite always,
// PostgreSQL when LEAFSYNC_TEST_POSTGRES_URL names a server (each test in a database of its own,
// dropped after), e.g.
//   PGPORT=55433 scripts/postgres.sh start
//   LEAFSYNC_TEST_POSTGRES_URL=$(PGPORT=55433 scripts/postgres.sh url) build/bin/leafsync-unit-tests

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "leafsync/ImageTable.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresSourceStore.h"
#include "leafsync/PostgresStore.h"
#include "leafsync/SqliteSourceStore.h"
#include "leafsync/SqliteStore.h"
#include "leafsync/StoreFactory.h"
#include "leafsync/Timestamp.h"
#include "support/EventBuilder.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using testing::EventBuilder;

const char* postgresAdminUrl() {
  const char* url = std::getenv("LEAFSYNC_TEST_POSTGRES_URL");
  return url && *url ? url : nullptr;
}

// Parameter: the database kind, "sqlite" or "postgresql".
class StoreBehaviour : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + dir_.file("copy.db");
    } else {
      LEAFSYNC_POSTGRES_OR_SKIP(!postgresAdminUrl())
      database_.emplace(postgresAdminUrl());
      url_ = database_->url();
    }
    store_ = openStore(url_);
  }

  ApplyCounts apply(std::vector<ChangeEvent> events, std::vector<PartitionOffset> offsets = {}) {
    return store_->applyBatch(events, offsets);
  }

  // Makes every write of image `id` of potato fail inside the database.
  void injectFailureOn(std::int64_t id) {
    const std::string where = "NEW.id = " + std::to_string(id);
    if (GetParam() == "sqlite") {
      sqlite3* raw = nullptr;
      ASSERT_EQ(sqlite3_open(dir_.file("copy.db").c_str(), &raw), SQLITE_OK);
      ASSERT_EQ(sqlite3_exec(raw,
                             ("CREATE TRIGGER fail_on_id BEFORE INSERT ON image_potato WHEN " + where +
                              " BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
                                 .c_str(),
                             nullptr, nullptr, nullptr),
                SQLITE_OK);
      sqlite3_close(raw);
    } else {
      PostgresConnection db(url_);
      db.exec("CREATE FUNCTION fail_on_id() RETURNS trigger LANGUAGE plpgsql AS"
              " $$BEGIN RAISE EXCEPTION 'injected failure'; END$$");
      db.exec("CREATE TRIGGER fail_on_id BEFORE INSERT OR UPDATE ON image_potato FOR EACH ROW WHEN (" +
              where + ") EXECUTE FUNCTION fail_on_id()");
    }
    store_ = openStore(url_);  // SQLite prepares statements against the new trigger
  }

  testing::TempDir dir_;
  std::optional<testing::ScratchPostgres> database_;  // outlives store_
  std::string url_;
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

TEST_P(StoreBehaviour, UpdateCanChangeEveryField) {
  apply({EventBuilder::create(1, 1)});
  ChangeEvent update = EventBuilder::update(1, 2)
                           .camera(7)
                           .data(std::string("\0\x01\xff binary", 10))
                           .gps(-12.5, 170.25)
                           .updatedAt("2026-11-25T08:39:50.456000")
                           .active(true)
                           .softDeleted(true)
                           .disease("Early blight")
                           .percentage(99.5);
  EXPECT_EQ(apply({update}).applied[static_cast<int>(Op::Update)], 1);
  auto found = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(found);
  ImageRecord expected = update.image;
  expected.created_at = "2023-10-08T15:39:49.123123";  // not carried: kept
  EXPECT_EQ(*found, expected);
}

TEST_P(StoreBehaviour, OlderVersionArrivingLateChangesNothing) {
  apply({EventBuilder::create(1, 1), EventBuilder::update(1, 2).disease("second"),
         EventBuilder::update(1, 3).disease("newest")});
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

TEST_P(StoreBehaviour, PartialUpdateOfAnAbsentRowIsParkedNotApplied) {
  auto counts = apply({EventBuilder::update(9, 2).disease("Healthy")});
  EXPECT_EQ(counts.parked, 1);
  EXPECT_EQ(counts.missing_row, 0);
  EXPECT_EQ(counts.parked_pending[plantIndex(Plant::Potato)], 1);
  EXPECT_EQ(counts.appliedTotal(), 0);
  EXPECT_FALSE(store_->find(Plant::Potato, 9));
  EXPECT_EQ(store_->versionOf(Plant::Potato, 9), 0);
}

// A Debezium `after` image is the whole row: it is never parked.
TEST_P(StoreBehaviour, WholeRowUpdateOfAMissingRowIsCountedNotApplied) {
  ChangeEvent update = EventBuilder::update(9, 2).disease("Healthy");
  update.whole_row = true;
  auto counts = apply({update});
  EXPECT_EQ(counts.missing_row, 1);
  EXPECT_EQ(counts.parked, 0);
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
  apply({EventBuilder::create(1, 1), EventBuilder::update(1, 2).active(false),
         EventBuilder::update(1, 3).disease("live change")});
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
                                                        ApplyOutcome::Parked}));
}

// Batched stores must split their multi-row statements so that this is sequential.
TEST_P(StoreBehaviour, OneImageSeveralTimesInABatchAppliesInOrder) {
  auto counts = apply({EventBuilder::update(1, 1).active(true),           // parked
                       EventBuilder::create(1, 1).camera(2),               // applied
                       EventBuilder::create(2, 1),                         // applied
                       EventBuilder::update(1, 2).disease("Late blight"),  // applied
                       EventBuilder::update(1, 2).disease("duplicate"),    // stale
                       EventBuilder::update(2, 2).percentage(5.0),         // applied
                       EventBuilder::update(1, 3).percentage(10.0),        // applied
                       EventBuilder::remove(1, 4),                         // applied
                       EventBuilder::update(1, 5).active(true),            // deleted row
                       EventBuilder::create(1, 3),                         // stale: tombstone is v4
                       EventBuilder::remove(1, 4),                         // stale
                       EventBuilder::snapshot(1, 6).camera(9),             // applied: newer than the delete
                       EventBuilder::create(1, 1, Plant::Tomato),          // applied: another table
                       EventBuilder::update(1, 7).disease("back")});       // applied
  using O = ApplyOutcome;
  EXPECT_EQ(counts.outcomes, (std::vector<O>{O::Parked, O::Applied, O::Applied, O::Applied, O::Stale,
                                             O::Applied, O::Applied, O::Applied, O::DeletedRow, O::Stale,
                                             O::Stale, O::Applied, O::Applied, O::Applied}));
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Create)], 3);
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Update)], 4);
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Delete)], 1);
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Snapshot)], 1);
  EXPECT_EQ(counts.stale, 3);
  EXPECT_EQ(counts.parked, 1);
  EXPECT_EQ(counts.superseded, 1) << "the create at the parked update's version";
  EXPECT_EQ(counts.parked_pending[plantIndex(Plant::Potato)], 0);
  EXPECT_EQ(counts.missing_row, 0);
  EXPECT_EQ(counts.deleted_row, 1);
  auto one = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(one) << "the snapshot newer than the delete brings the image back";
  EXPECT_EQ(one->version, 7);
  EXPECT_EQ(one->camera_id, 9);
  EXPECT_EQ(one->disease, "back");
  EXPECT_FALSE(one->percentage) << "the snapshot replaced the state before the delete";
  EXPECT_EQ(store_->find(Plant::Potato, 2)->percentage, 5.0);
  EXPECT_TRUE(store_->find(Plant::Tomato, 1));
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
  apply({}, {{"potato", 0, 20}, {"potato", 0, 15}});
  EXPECT_EQ(store_->nextOffset("potato", 0), 20) << "the same partition twice in one batch";
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
  auto reader = openStore(url_);
  EXPECT_TRUE(reader->find(Plant::Potato, 1));
  EXPECT_EQ(reader->nextOffset("potato", 1), 1);
}

TEST_P(StoreBehaviour, AFailedBatchLeavesNeitherRowsNorOffsets) {
  injectFailureOn(999);
  std::vector<ChangeEvent> batch = {EventBuilder::create(1, 1), EventBuilder::create(999, 1)};
  EXPECT_THROW(store_->applyBatch(batch, {{"potato", 0, 2}}), StoreError);
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
  EXPECT_FALSE(store_->nextOffset("potato", 0));
  // The connection stays usable after the rollback.
  store_->applyBatch({EventBuilder::create(1, 1)}, {{"potato", 0, 1}});
  EXPECT_TRUE(store_->find(Plant::Potato, 1));
}

// ------------------------------------------- partial updates out of order (issue 13)

TEST_P(StoreBehaviour, PartialUpdatesArrivingOutOfOrderAllApply) {
  apply({EventBuilder::create(1, 2)});
  apply({EventBuilder::update(1, 3).disease("Early blight")});
  auto early = apply({EventBuilder::update(1, 5).percentage(42.0)});
  EXPECT_EQ(early.outcomes, std::vector<ApplyOutcome>{ApplyOutcome::Parked});
  EXPECT_EQ(store_->versionOf(Plant::Potato, 1), 3) << "v5 waits for v4";
  auto gap = apply({EventBuilder::update(1, 4).camera(77)});
  EXPECT_EQ(gap.released, 1);
  EXPECT_EQ(gap.parked_pending[plantIndex(Plant::Potato)], 0);
  auto row = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->version, 5);
  EXPECT_EQ(row->disease, "Early blight");
  EXPECT_EQ(row->camera_id, 77);
  EXPECT_EQ(row->percentage, 42.0);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 0);
}

TEST_P(StoreBehaviour, ParkedUpdatesChainOnceTheGapCloses) {
  apply({EventBuilder::create(1, 1)});
  apply({EventBuilder::update(1, 4).percentage(4.0), EventBuilder::update(1, 3).disease("three")});
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 2);
  auto counts = apply({EventBuilder::update(1, 2).camera(2)});
  EXPECT_EQ(counts.released, 2);
  auto row = store_->find(Plant::Potato, 1);
  EXPECT_EQ(row->version, 4);
  EXPECT_EQ(row->camera_id, 2);
  EXPECT_EQ(row->disease, "three");
  EXPECT_EQ(row->percentage, 4.0);
}

TEST_P(StoreBehaviour, ANewerSnapshotSupersedesAParkedUpdate) {
  apply({EventBuilder::create(1, 1)});
  apply({EventBuilder::update(1, 5).disease("parked")});
  ChangeEvent snapshot = EventBuilder::snapshot(1, 6).camera(6).disease("snapshot");
  auto counts = apply({snapshot});
  EXPECT_EQ(counts.superseded, 1);
  EXPECT_EQ(counts.released, 0);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 0);
  EXPECT_EQ(store_->find(Plant::Potato, 1), snapshot.image);
}

TEST_P(StoreBehaviour, AnUpdateOfAnAbsentRowAppliesOnceItsCreateArrives) {
  apply({EventBuilder::update(1, 2).disease("Healthy")});
  auto counts = apply({EventBuilder::create(1, 1).camera(3)});
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Create)], 1);
  EXPECT_EQ(counts.released, 1);
  auto row = store_->find(Plant::Potato, 1);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->version, 2);
  EXPECT_EQ(row->camera_id, 3);
  EXPECT_EQ(row->disease, "Healthy");
}

// The consumer retries a failed batch whole: the parked update and the row must be as before
// the failure, so the retry releases it exactly once and its redelivery changes nothing.
TEST_P(StoreBehaviour, ABatchRolledBackBetweenParkingAndReleaseLosesNothing) {
  apply({EventBuilder::create(1, 1)}, {{"potato", 0, 1}});
  apply({EventBuilder::update(1, 3).disease("three")}, {{"potato", 1, 1}});
  injectFailureOn(999);
  EXPECT_THROW(apply({EventBuilder::update(1, 2).camera(2), EventBuilder::create(999, 1)}, {{"potato", 0, 3}}),
               StoreError);
  EXPECT_EQ(store_->versionOf(Plant::Potato, 1), 1);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 1) << "the parked update survives the rollback";
  EXPECT_EQ(store_->nextOffset("potato", 0), 1);

  auto retry = apply({EventBuilder::update(1, 2).camera(2)}, {{"potato", 0, 3}});
  EXPECT_EQ(retry.released, 1);
  auto redelivered = apply({EventBuilder::update(1, 3).disease("three")}, {{"potato", 1, 1}});
  EXPECT_EQ(redelivered.outcomes, std::vector<ApplyOutcome>{ApplyOutcome::Stale});
  EXPECT_EQ(redelivered.parked, 0);
  auto row = store_->find(Plant::Potato, 1);
  EXPECT_EQ(row->version, 3);
  EXPECT_EQ(row->camera_id, 2);
  EXPECT_EQ(row->disease, "three");
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 0);
}

TEST_P(StoreBehaviour, ADuplicateOfAParkedUpdateIsNotParkedTwice) {
  apply({EventBuilder::create(1, 1)});
  auto first = apply({EventBuilder::update(1, 3).disease("x"), EventBuilder::update(1, 3).disease("x")});
  auto again = apply({EventBuilder::update(1, 3).disease("x")});
  EXPECT_EQ(first.outcomes, (std::vector<ApplyOutcome>{ApplyOutcome::Parked, ApplyOutcome::Stale}));
  EXPECT_EQ(again.outcomes, std::vector<ApplyOutcome>{ApplyOutcome::Stale});
  EXPECT_EQ(first.parked + again.parked, 1);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 1);
}

// A Debezium `after` image (whole row) newer than a parked update already holds its fields.
TEST_P(StoreBehaviour, AParkedUpdateOlderThanTheRowIsDroppedAsStale) {
  apply({EventBuilder::create(1, 1)});
  apply({EventBuilder::update(1, 3).disease("parked")});
  ChangeEvent after = EventBuilder::update(1, 4).disease("after image");
  after.whole_row = true;
  auto counts = apply({after});
  EXPECT_EQ(counts.applied[static_cast<int>(Op::Update)], 1);
  EXPECT_EQ(counts.superseded, 1);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 0);
  EXPECT_EQ(store_->find(Plant::Potato, 1)->disease, "after image");
}

TEST_P(StoreBehaviour, ADeleteDropsTheParkedUpdatesOfItsRow) {
  apply({EventBuilder::create(1, 1)});
  apply({EventBuilder::update(1, 3).disease("parked")});
  auto counts = apply({EventBuilder::remove(1, 4)});
  EXPECT_EQ(counts.superseded, 1);
  EXPECT_EQ(store_->parkedUpdates(Plant::Potato).count, 0);
}

TEST_P(StoreBehaviour, ParkedUpdatesAreCountedPerPlantWithTheOldestParkTime) {
  const std::int64_t before = nowMillis();
  apply({EventBuilder::update(1, 2).disease("a"), EventBuilder::update(2, 2).disease("b"),
         EventBuilder::update(1, 2, Plant::Tomato).disease("c")});
  const std::int64_t after = nowMillis();
  ParkedSummary potato = store_->parkedUpdates(Plant::Potato);
  EXPECT_EQ(potato.count, 2);
  ASSERT_TRUE(potato.oldest_parked_ms);
  EXPECT_GE(*potato.oldest_parked_ms, before);
  EXPECT_LE(*potato.oldest_parked_ms, after);
  EXPECT_EQ(store_->parkedUpdates(Plant::Tomato).count, 1);
  ParkedSummary pepper = store_->parkedUpdates(Plant::Pepper);
  EXPECT_EQ(pepper.count, 0);
  EXPECT_FALSE(pepper.oldest_parked_ms);
}

// A random stream with duplicates, replays, deletes and updates of missing rows, applied in
// batches of random size, gives the outcomes and the rows of applying it one event at a time
// to SQLite (the reference).
TEST_P(StoreBehaviour, RandomBatchesMatchOneAtATimeOnSqlite) {
  std::mt19937 rng(20261125);
  std::map<std::pair<int, std::int64_t>, std::int64_t> version;  // what the source is at
  std::vector<ChangeEvent> stream;
  for (int i = 0; i < 3000; ++i) {
    Plant plant = kAllPlants[rng() % 2];
    std::int64_t id = 1 + static_cast<std::int64_t>(rng() % 40);
    std::int64_t& v = version[{static_cast<int>(plant), id}];
    int dice = static_cast<int>(rng() % 100);
    std::int64_t next = dice < 8 && v > 1 ? v - static_cast<std::int64_t>(rng() % 2) : ++v;  // 8 %: replays
    if (dice < 25) {
      stream.push_back(EventBuilder::create(id, next, plant).camera(dice).data(std::string(rng() % 64, 'x')));
    } else if (dice < 30) {
      stream.push_back(EventBuilder::snapshot(id, next, plant).disease("snap"));
    } else if (dice < 40) {
      stream.push_back(EventBuilder::remove(id, next, plant));
    } else {
      EventBuilder u = EventBuilder::update(id, next, plant);
      if (dice % 2) u.disease(dice % 3 ? std::optional<std::string>("d" + std::to_string(i)) : std::nullopt);
      if (dice % 5 == 0) u.percentage(dice % 3 ? std::optional<double>(dice) : std::nullopt);
      if (dice % 7 == 0) u.data("new bytes " + std::to_string(i));
      if (dice % 11 == 0) u.gps(1.5, -2.5).camera(i);
      if (dice % 3 == 0) u.active(i % 2 == 0).softDeleted(i % 4 == 0);
      u.updatedAt("2026-11-25T08:39:50." + std::to_string(100000 + i));
      stream.push_back(u);
    }
  }
  testing::TempDir reference_dir;
  SqliteStore reference(reference_dir.file("reference.db"));
  std::vector<ApplyOutcome> expected;
  for (const ChangeEvent& e : stream) expected.push_back(reference.applyBatch({e}, {}).outcomes.at(0));

  std::vector<ApplyOutcome> outcomes;
  for (std::size_t at = 0; at < stream.size();) {
    std::size_t n = std::min<std::size_t>(stream.size() - at, 1 + rng() % 400);
    std::vector<ChangeEvent> batch(stream.begin() + static_cast<long>(at), stream.begin() + static_cast<long>(at + n));
    ApplyCounts counts = apply(batch, {{"potato", 0, static_cast<std::int64_t>(at + n)}});
    outcomes.insert(outcomes.end(), counts.outcomes.begin(), counts.outcomes.end());
    at += n;
  }
  ASSERT_EQ(outcomes.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(outcomes[i], expected[i]) << "event " << i;
  }
  for (Plant plant : kAllPlants) {
    EXPECT_EQ(store_->count(plant), reference.count(plant));
    EXPECT_EQ(store_->list(plant, 0, 100), reference.list(plant, 0, 100));
    for (std::int64_t id = 1; id <= 40; ++id) EXPECT_EQ(store_->versionOf(plant, id), reference.versionOf(plant, id));
  }
  EXPECT_EQ(store_->nextOffset("potato", 0), static_cast<std::int64_t>(stream.size()));
}

INSTANTIATE_TEST_SUITE_P(Databases, StoreBehaviour, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "sqlite" ? std::string("Sqlite") : std::string("Postgres");
                         });

// ----------------------------------------------------------------------- SQLite only

// Two consumers (or a producer and its load generator) starting together on a new file: each
// process must open it, however their switches to WAL and migrations interleave.
TEST(SqliteStoreTest, ProcessesOpeningANewFileTogetherAllSucceed) {
  for (int round = 0; round < 10; ++round) {
    testing::TempDir dir;
    const std::string path = dir.file("copy.sqlite");
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        try {
          SqliteStore store(path);
          store.applyBatch({EventBuilder::create(i + 1, 1)}, {{"potato", i, 1}});
          ::_exit(0);
        } catch (...) {
          ::_exit(1);
        }
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
    EXPECT_EQ(SqliteStore(path).count(Plant::Potato), 4);
  }
}

// A copy made before parked updates existed (schema 1) gains the table when it is opened.
TEST(SqliteStoreTest, ACopyOfSchemaOneMigratesAndParks) {
  testing::TempDir dir;
  const std::string path = dir.file("copy.sqlite");
  { SqliteStore(path).applyBatch({EventBuilder::create(1, 1)}, {}); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DROP TABLE parked_updates; PRAGMA user_version = 1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  SqliteStore store(path);
  ApplyCounts counts = store.applyBatch({EventBuilder::update(1, 3).disease("x")}, {});
  EXPECT_EQ(counts.parked, 1);
  EXPECT_EQ(store.find(Plant::Potato, 1)->version, 1);
}

// A copy given the producer's source file, or the other way round (one LEAFSYNC_DATABASE_URL
// too many in an environment), is refused with an error that says so, and neither is touched.
TEST(SqliteStoreTest, ACopyAndASourceRefuseEachOthersFiles) {
  testing::TempDir dir;
  { SqliteSourceStore source(dir.file("source.sqlite")); }
  { SqliteStore copy(dir.file("copy.sqlite")); }
  try {
    SqliteStore copy(dir.file("source.sqlite"));
    ADD_FAILURE() << "a copy opened the source's file";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a consumer copy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SqliteSourceStore(dir.file("copy.sqlite")), StoreError);
  EXPECT_NO_THROW(SqliteSourceStore(dir.file("source.sqlite"))) << "the source is intact";
  EXPECT_NO_THROW(SqliteStore(dir.file("copy.sqlite"))) << "the copy is intact";
}

// ----------------------------------------------------------------------- PostgreSQL only

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LEAFSYNC_POSTGRES_OR_SKIP(!postgresAdminUrl())
    database_.emplace(postgresAdminUrl());
  }
  std::optional<testing::ScratchPostgres> database_;
};

TEST_F(PostgresStoreTest, EveryApplyModeGivesTheSameOutcomes) {
  std::vector<ChangeEvent> batch;
  for (int id = 1; id <= 30; ++id) batch.push_back(EventBuilder::create(id, 1));
  for (int id = 1; id <= 30; id += 2) batch.push_back(EventBuilder::update(id, 2).disease("x"));
  for (int id = 1; id <= 30; id += 3) batch.push_back(EventBuilder::remove(id, 3));
  for (int id = 25; id <= 35; ++id) batch.push_back(EventBuilder::update(id, 4).active(true));
  ApplyCounts first;
  for (bool pipeline : {true, false}) {
    for (std::size_t max_run : {0, 1, 7}) {
      SCOPED_TRACE("pipeline " + std::to_string(pipeline) + ", max_run " + std::to_string(max_run));
      testing::ScratchPostgres db(postgresAdminUrl());
      PostgresStore store(db.url(), PostgresApplyOptions{pipeline, max_run});
      ApplyCounts counts = store.applyBatch(batch, {{"potato", 0, 1}});
      if (first.outcomes.empty()) first = counts;
      EXPECT_EQ(counts.outcomes, first.outcomes);
      EXPECT_EQ(store.count(Plant::Potato), 30 - 10);
      EXPECT_EQ(store.find(Plant::Potato, 29)->version, 2) << "v4 waits for v3";
    }
  }
  EXPECT_EQ(first.parked, 9) << "31..35 absent; 26, 27, 29, 30 not at version 3";
  EXPECT_EQ(first.deleted_row, 2);
}

// The consumer retries a batch after StoreError; the same store object must reconnect.
TEST_F(PostgresStoreTest, ALostConnectionFailsOnceThenTheStoreReconnects) {
  PostgresStore store(database_->url());
  store.applyBatch({EventBuilder::create(1, 1)}, {{"potato", 0, 1}});

  database_->terminateBackend(store.backendPid());
  std::vector<ChangeEvent> batch = {EventBuilder::create(2, 1), EventBuilder::update(1, 2).active(true)};
  EXPECT_THROW(store.applyBatch(batch, {{"potato", 0, 3}}), StoreError);
  ApplyCounts counts = store.applyBatch(batch, {{"potato", 0, 3}});
  EXPECT_EQ(counts.appliedTotal(), 2) << "the failed attempt committed nothing";
  EXPECT_EQ(store.nextOffset("potato", 0), 3);

  database_->terminateBackend(store.backendPid());
  EXPECT_THROW(store.find(Plant::Potato, 2), StoreError);
  EXPECT_TRUE(store.find(Plant::Potato, 2));
  database_->terminateBackend(store.backendPid());
  EXPECT_THROW(store.ping(), StoreError);
  EXPECT_NO_THROW(store.ping());
}

TEST_F(PostgresStoreTest, StatementsTimeOutAfterAMinuteByDefault) {
  PostgresConnection db(database_->url());
  db.ensureOpen();
  EXPECT_EQ(db.execParams("SELECT current_setting('statement_timeout')", PgParams()).getBytes(0, 0), "1min");
}

// A batch stuck behind a row lock held elsewhere fails (and is retried) instead of blocking
// its partition applier, and with it a revocation, for as long as the lock is held.
TEST_F(PostgresStoreTest, ABatchBlockedByALockFailsAtTheStatementTimeoutThenApplies) {
  const std::string& url = database_->url();
  PostgresStore store(url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-c%20statement_timeout%3D300");
  store.applyBatch({EventBuilder::create(1, 1)}, {{"potato", 0, 1}});
  PostgresConnection locker(url);
  locker.ensureOpen();
  locker.exec("BEGIN");
  locker.exec("SELECT id FROM " + imageTable(Plant::Potato) + " WHERE id = 1 FOR UPDATE");
  std::vector<ChangeEvent> batch = {EventBuilder::update(1, 2).disease("Early blight")};
  EXPECT_THROW(store.applyBatch(batch, {{"potato", 0, 2}}), StoreError);
  locker.exec("ROLLBACK");
  EXPECT_EQ(store.applyBatch(batch, {{"potato", 0, 2}}).appliedTotal(), 1);
  EXPECT_EQ(store.versionOf(Plant::Potato, 1), 2);
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsAStoreError) {
  EXPECT_THROW(PostgresStore("postgresql://leafsync@127.0.0.1:1/none?connect_timeout=2"), StoreError);
  EXPECT_THROW(openStore("postgres://leafsync@127.0.0.1:1/none?connect_timeout=2"), StoreError);
}

TEST_F(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      try {
        PostgresStore store(database_->url());
        store.ping();
      } catch (const StoreError& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  PostgresConnection db(database_->url());
  PgResult r = db.execParams("SELECT count(*), count(DISTINCT version) FROM schema_migrations WHERE component = $1",
                             PgParams().text("copy"));
  EXPECT_EQ(r.getInt(0, 0), r.getInt(0, 1)) << "each migration ran once";
  PostgresStore again(database_->url());  // nothing left to migrate
  EXPECT_EQ(again.count(Plant::Pepper), 0);
}

// A copy made before parked updates existed (migration 1 only) gains them when it is opened.
TEST_F(PostgresStoreTest, ACopyOfMigrationOneMigratesAndParks) {
  { PostgresStore(database_->url()).applyBatch({EventBuilder::create(1, 1)}, {}); }
  {
    PostgresConnection db(database_->url());
    db.exec("DROP TABLE parked_updates");
    for (Plant plant : kAllPlants) db.exec("DROP FUNCTION copy_release_parked_" + std::string(plantName(plant)));
    db.exec("DELETE FROM schema_migrations WHERE component = 'copy' AND version >= 2");
  }
  PostgresStore store(database_->url());
  ApplyCounts counts = store.applyBatch({EventBuilder::update(1, 3).disease("x")}, {});
  EXPECT_EQ(counts.parked, 1);
  EXPECT_EQ(store.applyBatch({EventBuilder::update(1, 2).camera(2)}, {}).released, 1);
  EXPECT_EQ(store.find(Plant::Potato, 1)->version, 3);
}

// Two replicas: B moves image 1 to v2 and has looked for parked updates (none) but not yet
// committed, when A, seeing v1, parks v3. Whichever commits last must release v3.
TEST_F(PostgresStoreTest, AnUpdateParkedWhileAnotherReplicaClosesItsGapIsReleased) {
  PostgresStore a(database_->url()), b(database_->url());
  a.applyBatch({EventBuilder::create(1, 1)}, {{"potato", 9, 1}});
  PostgresConnection holder(database_->url());
  holder.ensureOpen();
  holder.exec("BEGIN");
  holder.exec("SELECT * FROM kafka_offsets WHERE topic = 'potato' AND partition = 9 FOR UPDATE");
  PostgresConnection watcher(database_->url());
  watcher.ensureOpen();
  auto waitingOnLocks = [&] {
    return watcher.execParams("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                              " AND datname = current_database()", PgParams()).getInt(0, 0);
  };
  auto until = [&](std::int64_t waiting, std::chrono::seconds deadline) {
    for (auto end = std::chrono::steady_clock::now() + deadline; std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
      if (waitingOnLocks() == waiting) return true;
    }
    return false;
  };
  // B's offsets wait for the holder, after its update and its look at the parked updates.
  std::thread replica_b([&] { b.applyBatch({EventBuilder::update(1, 2).camera(2)}, {{"potato", 9, 2}}); });
  std::thread replica_a;
  try {
    EXPECT_TRUE(until(1, std::chrono::seconds(10))) << "B did not block on its offsets";
    replica_a = std::thread([&] { a.applyBatch({EventBuilder::update(1, 3).disease("three")}, {{"potato", 10, 1}}); });
    until(2, std::chrono::seconds(2));  // A waits for B, if it must (without the plant's lock it commits)
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  holder.exec("COMMIT");
  replica_b.join();
  if (replica_a.joinable()) replica_a.join();
  EXPECT_EQ(a.versionOf(Plant::Potato, 1), 3);
  EXPECT_EQ(a.parkedUpdates(Plant::Potato).count, 0);
}

TEST_F(PostgresStoreTest, CopyAndSourceRefuseToShareADatabase) {
  PostgresStore copy(database_->url());
  EXPECT_THROW(PostgresSourceStore{database_->url()}, StoreError);
}

TEST(PostgresUrl, DatabaseIsReplaced) {
  EXPECT_EQ(postgresUrlWithDatabase("postgresql://u@h:5/db", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(postgresUrlWithDatabase("postgresql://u@h:5", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(postgresUrlWithDatabase("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
  EXPECT_EQ(postgresUrlWithDatabase("postgresql://h?a=/b", "x"), "postgresql://h/x?a=/b");
}

}  // namespace
}  // namespace leafsync
