// The source database: every write and its change event commit together. Runs against SQLite
// always and against PostgreSQL when LEAFSYNC_TEST_POSTGRES_URL names a server (each test in a
// database of its own, dropped after); see StoreBehaviourTest.cpp.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

#include "leafsync/EventCodec.h"
#include "leafsync/PostgresConnection.h"
#include "leafsync/PostgresSourceStore.h"
#include "leafsync/StoreFactory.h"
#include "support/PostgresTier.h"
#include "support/ScratchPostgres.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

const char* postgresAdminUrl() {
  const char* url = std::getenv("LEAFSYNC_TEST_POSTGRES_URL");
  return url && *url ? url : nullptr;
}

// Parameter: the database kind, "sqlite" or "postgresql".
class SourceStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + dir_.file("source.db");
    } else {
      LEAFSYNC_POSTGRES_OR_SKIP(!postgresAdminUrl())
      database_.emplace(postgresAdminUrl());
      url_ = database_->url();
    }
    store_ = openSourceStore(url_);
  }

  ChangeEvent decodeOutbox(const OutboxEntry& entry) {
    auto result = codec_.decode(EventCodec::encodeKey(entry.image_id), entry.value);
    if (auto* error = std::get_if<DecodeError>(&result)) ADD_FAILURE() << error->reason;
    return std::get<ChangeEvent>(result);
  }
  NewImage image(std::int64_t camera = 1) { return NewImage{camera, "\xff\xd8 bytes", 48.2, 16.3}; }

  testing::TempDir dir_;
  std::optional<testing::ScratchPostgres> database_;  // outlives store_
  std::string url_;
  std::unique_ptr<SourceStore> store_;
  EventCodec codec_;
};

TEST_P(SourceStoreTest, IdsAreSequentialPerPlantFromOne) {
  EXPECT_EQ(store_->create(Plant::Potato, image()).id, 1);
  EXPECT_EQ(store_->create(Plant::Potato, image()).id, 2);
  EXPECT_EQ(store_->create(Plant::Tomato, image()).id, 1);
}

TEST_P(SourceStoreTest, IdsOfDeletedImagesAreNeverReused) {
  store_->create(Plant::Potato, image());
  store_->create(Plant::Potato, image());
  store_->remove(Plant::Potato, 2);
  EXPECT_EQ(store_->create(Plant::Potato, image()).id, 3);
}

TEST_P(SourceStoreTest, CreateQueuesAFullStateEvent) {
  ImageRecord created = store_->create(Plant::Pepper, image(9));
  auto pending = store_->pendingEvents(10);
  ASSERT_EQ(pending.size(), 1u);
  ChangeEvent event = decodeOutbox(pending[0]);
  EXPECT_EQ(event.op, Op::Create);
  EXPECT_EQ(event.plant, Plant::Pepper);
  EXPECT_EQ(event.image, created);
}

TEST_P(SourceStoreTest, UpdateQueuesOnlyTheChangedFieldsAndBumpsTheVersion) {
  store_->create(Plant::Potato, image());
  ImageChange change;
  change.id = 1;
  change.fields = kDisease | kPercentage | kCameraId;
  change.values.disease = "Late blight";
  change.values.percentage = 80.0;
  change.values.camera_id = 1;  // unchanged: not in the event
  auto updated = store_->update(Plant::Potato, change);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->version, 2);
  auto pending = store_->pendingEvents(10);
  ASSERT_EQ(pending.size(), 2u);
  ChangeEvent event = decodeOutbox(pending[1]);
  EXPECT_EQ(event.op, Op::Update);
  EXPECT_EQ(event.fields, kDisease | kPercentage | kUpdatedAt);
  EXPECT_EQ(pending[1].value.find("\"data\""), std::string::npos) << "no image bytes in a metadata update";
  EXPECT_EQ(event.image.version, 2);
}

TEST_P(SourceStoreTest, UpdateThatChangesNothingQueuesNothing) {
  store_->create(Plant::Potato, image());
  ImageChange change;
  change.id = 1;
  change.fields = kIsActive;
  change.values.is_active = false;
  EXPECT_EQ(store_->update(Plant::Potato, change)->version, 1);
  EXPECT_EQ(store_->pendingCount(), 1);
}

TEST_P(SourceStoreTest, UpdateOrDeleteOfAMissingImageReportsIt) {
  ImageChange change;
  change.id = 5;
  change.fields = kIsActive;
  EXPECT_FALSE(store_->update(Plant::Potato, change));
  EXPECT_FALSE(store_->remove(Plant::Potato, 5));
  EXPECT_EQ(store_->pendingCount(), 0);
}

TEST_P(SourceStoreTest, DeleteQueuesTheNextVersion) {
  store_->create(Plant::Potato, image());
  EXPECT_EQ(store_->remove(Plant::Potato, 1), 2);
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
  ChangeEvent event = decodeOutbox(store_->pendingEvents(10).at(1));
  EXPECT_EQ(event.op, Op::Delete);
  EXPECT_EQ(event.image.version, 2);
}

TEST_P(SourceStoreTest, SnapshotQueuesEveryLiveRowWithItsCurrentVersion) {
  for (int i = 0; i < 3; ++i) store_->create(Plant::Potato, image());
  store_->remove(Plant::Potato, 2);
  ImageChange change;
  change.id = 3;
  change.fields = kIsActive;
  change.values.is_active = true;
  store_->update(Plant::Potato, change);
  store_->markPublished(store_->pendingEvents(100).back().seq);

  EXPECT_EQ(store_->enqueueSnapshot(Plant::Potato, 0, 10), (std::vector<std::int64_t>{1, 3}));
  auto pending = store_->pendingEvents(10);
  ASSERT_EQ(pending.size(), 2u);
  ChangeEvent row3 = decodeOutbox(pending[1]);
  EXPECT_EQ(row3.op, Op::Snapshot);
  EXPECT_EQ(row3.image.version, 2);
  EXPECT_EQ(row3.image, *store_->find(Plant::Potato, 3));
  EXPECT_EQ(store_->enqueueSnapshot(Plant::Potato, 3, 10).size(), 0u);
}

TEST_P(SourceStoreTest, PublishedEventsLeaveTheOutboxInCommitOrder) {
  for (int i = 0; i < 5; ++i) store_->create(Plant::Potato, image());
  auto first = store_->pendingEvents(3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_LT(first[0].seq, first[1].seq);
  store_->markPublished(first.back().seq);
  auto rest = store_->pendingEvents(10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].image_id, 4);
}

TEST_P(SourceStoreTest, PendingEventsAfterASeqStartPastIt) {
  for (int i = 0; i < 5; ++i) store_->create(Plant::Potato, image());
  auto all = store_->pendingEvents(10);
  auto after = store_->pendingEventsAfter(all[1].seq, 2);  // what a relay with two in flight reads
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq, all[2].seq);
  EXPECT_EQ(after[1].seq, all[3].seq);
  EXPECT_EQ(store_->pendingCount(), 5) << "reading past events deletes nothing";
}

// Writers on several connections while a relay publishes and marks: every event is published
// exactly once, and each image's events in version order. (In PostgreSQL a later seq must not
// commit before an earlier one, or markPublished(seq) would drop the earlier event unseen.)
TEST_P(SourceStoreTest, ConcurrentWritersLoseNoEventWhileTheRelayMarks) {
  constexpr int kWriters = 3;
  constexpr int kImagesPerWriter = 60;
  std::atomic<int> writers_done{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto store = openSourceStore(url_);
      for (int i = 0; i < kImagesPerWriter; ++i) {
        ImageRecord created = store->create(Plant::Potato, image(w));
        ImageChange change;
        change.id = created.id;
        change.fields = kDisease;
        change.values.disease = "writer " + std::to_string(w);
        store->update(Plant::Potato, change);
      }
      ++writers_done;
    });
  }
  std::map<std::int64_t, std::vector<std::int64_t>> versions;  // id -> versions published, in order
  std::size_t published = 0;
  auto relay = openSourceStore(url_);
  auto drain = [&] {
    auto batch = relay->pendingEvents(25);
    for (const OutboxEntry& entry : batch) {
      versions[entry.image_id].push_back(decodeOutbox(entry).image.version);
      ++published;
    }
    if (!batch.empty()) relay->markPublished(batch.back().seq);
    return batch.size();
  };
  while (writers_done < kWriters) drain();
  for (auto& t : writers) t.join();
  while (drain() > 0) {
  }
  EXPECT_EQ(published, static_cast<std::size_t>(2 * kWriters * kImagesPerWriter));
  EXPECT_EQ(versions.size(), static_cast<std::size_t>(kWriters * kImagesPerWriter));
  for (const auto& [id, list] : versions) {
    EXPECT_EQ(list, (std::vector<std::int64_t>{1, 2})) << "image " << id;
  }
  EXPECT_EQ(relay->pendingCount(), 0);
}

// Two writers of one image never compute the same next version.
TEST_P(SourceStoreTest, ConcurrentUpdatesOfOneImageGetConsecutiveVersions) {
  store_->create(Plant::Tomato, image());
  constexpr int kThreads = 3;
  constexpr int kUpdates = 30;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = openSourceStore(url_);
      for (int i = 0; i < kUpdates; ++i) {
        ImageChange change;
        change.id = 1;
        change.fields = kDisease;
        change.values.disease = "t" + std::to_string(t) + " u" + std::to_string(i);
        store->update(Plant::Tomato, change);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->find(Plant::Tomato, 1)->version, 1 + kThreads * kUpdates);
  std::vector<std::int64_t> published;
  for (const OutboxEntry& entry : store_->pendingEvents(1000)) published.push_back(decodeOutbox(entry).image.version);
  ASSERT_EQ(published.size(), static_cast<std::size_t>(1 + kThreads * kUpdates));
  for (std::size_t i = 0; i < published.size(); ++i) EXPECT_EQ(published[i], static_cast<std::int64_t>(i + 1));
}

INSTANTIATE_TEST_SUITE_P(Databases, SourceStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "sqlite" ? std::string("Sqlite") : std::string("Postgres");
                         });

// The producer's API threads retry after StoreError; the same store object must reconnect.
TEST(PostgresSourceStore, ALostConnectionFailsOnceThenTheStoreReconnects) {
  LEAFSYNC_POSTGRES_OR_SKIP(!postgresAdminUrl())
  testing::ScratchPostgres database(postgresAdminUrl());
  PostgresSourceStore store(database.url());
  store.create(Plant::Pepper, NewImage{1, "bytes", 1.0, 2.0});
  auto terminate = [&] {
    PostgresConnection& admin = database.admin();
    admin.ensureOpen();
    int pid = store.backendPid();
    admin.execParams("SELECT pg_terminate_backend($1)", PgParams().add(std::int32_t{pid}));
    for (int i = 0; i < 500; ++i) {
      if (admin.execParams("SELECT 1 FROM pg_stat_activity WHERE pid = $1", PgParams().add(std::int32_t{pid})).rows() == 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "backend " << pid << " still alive";
  };
  terminate();
  EXPECT_THROW(store.create(Plant::Pepper, NewImage{2, "bytes", 1.0, 2.0}), StoreError);
  EXPECT_EQ(store.create(Plant::Pepper, NewImage{2, "bytes", 1.0, 2.0}).camera_id, 2);
  EXPECT_EQ(store.pendingCount(), 2) << "the failed create queued nothing";
  terminate();
  EXPECT_THROW(store.pendingEvents(10), StoreError);
  EXPECT_EQ(store.pendingEvents(10).size(), 2u);
}

}  // namespace
}  // namespace leafsync
