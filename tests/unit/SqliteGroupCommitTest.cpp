#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "leafsync/SqliteConnection.h"
#include "leafsync/SqliteStore.h"
#include "support/EventBuilder.h"
#include "support/Eventually.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::eventually;

// The partitions of one process writing one SQLite copy, each on a connection of its own, as
// the partition appliers do. The test holds the file's writer mutex to make batches meet: a
// leader then blocks inside its transaction while the others queue behind it.
class SqliteGroupCommitTest : public ::testing::Test {
 protected:
  SqliteGroupCommitTest() : path_(dir_.file("copy.db")), reader_(path_), lock_holder_(path_) {
    // Opened beforehand: opening migrates, which takes the writer mutex the tests hold.
    for (int p = 0; p < 3; ++p) stores_.push_back(std::make_unique<SqliteStore>(path_));
  }

  // Applies `events` and partition `partition`'s next offset on its own connection.
  std::future<ApplyCounts> applyAsync(std::int32_t partition, std::vector<ChangeEvent> events, std::int64_t next) {
    return std::async(std::launch::async, [this, partition, events = std::move(events), next] {
      return stores_[static_cast<std::size_t>(partition)]->applyBatch(events, {{"potato", partition, next}});
    });
  }
  // Starts partition 0's batch: its caller leads a transaction that blocks on the writer
  // mutex the test holds, so what follows queues behind it.
  std::future<ApplyCounts> startLeader(std::int32_t id) {
    std::future<ApplyCounts> leader = applyAsync(0, {EventBuilder::create(id, 1).build()}, 1);
    EXPECT_TRUE(eventually([&] { return lock_holder_.groupCommit().writing(); }, 5s));
    return leader;
  }
  void waitQueued(std::size_t n) {
    ASSERT_TRUE(eventually([&] { return queued() == n; }, 5s)) << "queued " << queued();
  }
  std::size_t queued() { return lock_holder_.groupCommit().queued(); }

  testing::TempDir dir_;
  std::string path_;
  SqliteStore reader_;  // creates the schema
  SqliteConnection lock_holder_;
  std::vector<std::unique_ptr<SqliteStore>> stores_;
};

TEST_F(SqliteGroupCommitTest, ALoneBatchIsWrittenAtOnceInATransactionOfItsOwn) {
  ApplyCounts counts = reader_.applyBatch({EventBuilder::create(1, 1).build()}, {{"potato", 0, 1}});
  EXPECT_EQ(counts.group_batches, 1);
  EXPECT_EQ(reader_.groupTransactions(), 1u);
  EXPECT_EQ(reader_.nextOffset("potato", 0), 1);
}

TEST_F(SqliteGroupCommitTest, BatchesReadyWhileATransactionRunsAreWrittenTogetherInTheNextOne) {
  std::future<ApplyCounts> first;
  std::vector<std::future<ApplyCounts>> others;
  {
    std::lock_guard<std::mutex> held(lock_holder_.writer());
    first = startLeader(1);
    others.push_back(applyAsync(1, {EventBuilder::create(2, 1).build(), EventBuilder::update(2, 2).active(false).build()}, 2));
    others.push_back(applyAsync(2, {EventBuilder::create(3, 1).build()}, 1));
    waitQueued(2);
  }
  EXPECT_EQ(first.get().group_batches, 1);
  for (auto& f : others) EXPECT_EQ(f.get().group_batches, 2);
  EXPECT_EQ(reader_.groupTransactions(), 2u) << "three batches, two transactions";
  EXPECT_EQ(reader_.groupBatches(), 3u);
  EXPECT_EQ(reader_.nextOffset("potato", 0), 1);
  EXPECT_EQ(reader_.nextOffset("potato", 1), 2);
  EXPECT_EQ(reader_.nextOffset("potato", 2), 1);
  EXPECT_EQ(reader_.versionOf(Plant::Potato, 2), 2) << "a partition's events in their order";
  EXPECT_TRUE(reader_.find(Plant::Potato, 3).has_value());
}

TEST_F(SqliteGroupCommitTest, EachBatchOfAGroupGetsItsOwnCounts) {
  reader_.applyBatch({EventBuilder::create(2, 5).build()}, {});
  std::future<ApplyCounts> first;
  std::future<ApplyCounts> fresh;
  std::future<ApplyCounts> stale;
  {
    std::lock_guard<std::mutex> held(lock_holder_.writer());
    first = startLeader(1);
    fresh = applyAsync(1, {EventBuilder::create(3, 1).build(), EventBuilder::create(4, 1).build()}, 2);
    stale = applyAsync(2, {EventBuilder::create(2, 4).build()}, 1);
    waitQueued(2);
  }
  first.get();
  ApplyCounts f = fresh.get();
  ApplyCounts s = stale.get();
  EXPECT_EQ(f.appliedTotal(), 2);
  EXPECT_EQ(f.stale, 0);
  EXPECT_EQ(f.outcomes.size(), 2u);
  EXPECT_EQ(s.appliedTotal(), 0);
  EXPECT_EQ(s.stale, 1);
  ASSERT_EQ(s.outcomes.size(), 1u);
  EXPECT_EQ(s.outcomes[0], ApplyOutcome::Stale);
}

// A trigger that makes the database refuse inserts (`when`: which ones), as a full disk or a
// constraint would, in the middle of a transaction.
void refuseInserts(const std::string& path, const std::string& when) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  std::string sql = "CREATE TRIGGER refuse BEFORE INSERT ON image_potato " + when +
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END";
  EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
  sqlite3_close(raw);
}

TEST_F(SqliteGroupCommitTest, ABatchTheDatabaseRefusesFailsAloneAndTheRestOfItsGroupCommits) {
  refuseInserts(path_, "WHEN NEW.id = 666");
  std::future<ApplyCounts> first;
  std::future<ApplyCounts> good;
  std::future<ApplyCounts> bad;
  {
    std::lock_guard<std::mutex> held(lock_holder_.writer());
    first = startLeader(1);
    good = applyAsync(1, {EventBuilder::create(2, 1).build()}, 1);
    bad = applyAsync(2, {EventBuilder::create(666, 1).build(), EventBuilder::create(3, 1).build()}, 2);
    waitQueued(2);
  }
  first.get();
  EXPECT_EQ(good.get().appliedTotal(), 1);
  EXPECT_THROW(bad.get(), StoreError);
  EXPECT_TRUE(reader_.find(Plant::Potato, 2).has_value());
  EXPECT_EQ(reader_.nextOffset("potato", 1), 1);
  EXPECT_FALSE(reader_.find(Plant::Potato, 3).has_value()) << "half of the refused batch committed";
  EXPECT_FALSE(reader_.nextOffset("potato", 2));
  EXPECT_EQ(reader_.groupBatches(), 2u) << "the good one committed once";
}

TEST_F(SqliteGroupCommitTest, WhenTheDatabaseFailsEveryBatchOfTheGroupFailsAndNoneIsCommitted) {
  std::future<ApplyCounts> first;
  std::future<ApplyCounts> second;
  std::future<ApplyCounts> third;
  {
    std::lock_guard<std::mutex> held(lock_holder_.writer());
    first = startLeader(1);
    second = applyAsync(1, {EventBuilder::create(2, 1).build()}, 1);
    third = applyAsync(2, {EventBuilder::create(3, 1).build()}, 1);
    waitQueued(2);
    refuseInserts(path_, "");  // the first one's transaction has not begun: refused too
  }
  EXPECT_THROW(first.get(), StoreError);
  EXPECT_THROW(second.get(), StoreError);
  EXPECT_THROW(third.get(), StoreError);
  EXPECT_EQ(reader_.count(Plant::Potato), 0);
  EXPECT_TRUE(reader_.offsets().empty());
  EXPECT_EQ(reader_.groupTransactions(), 0u);
}

// At low rates each partition leads a transaction of its own, one after the other: written on
// the connection of whoever leads, each would find its page cache dropped by the previous
// one's commit and read its pages from the file again.
TEST_F(SqliteGroupCommitTest, BatchesOfAnyConnectionAreWrittenThroughOneWarmPageCache) {
  std::int64_t id = 0;
  auto applyRound = [&] {
    for (std::int32_t p = 0; p < 3; ++p) {
      ++id;
      stores_[static_cast<std::size_t>(p)]->applyBatch({EventBuilder::create(id, 1).build()}, {{"potato", p, id}});
    }
  };
  applyRound();  // the first transactions read the pages they write
  auto pagesRead = [&] {
    std::int64_t n = 0;
    for (const auto& store : stores_) n += store->writerPagesRead();
    return n;
  };
  const std::int64_t before = pagesRead();
  for (int round = 0; round < 10; ++round) applyRound();
  EXPECT_LE(pagesRead() - before, 3) << "30 single-event batches of 3 connections in turn";
  EXPECT_EQ(reader_.count(Plant::Potato), id);
}

TEST_F(SqliteGroupCommitTest, ManyWritersAtOnceLoseAndDoubleNothing) {
  constexpr int kPartitions = 6;
  constexpr int kBatches = 50;
  std::vector<std::thread> writers;
  for (int p = 0; p < kPartitions; ++p) {
    writers.emplace_back([this, p] {
      SqliteStore store(path_);
      for (int b = 0; b < kBatches; ++b) {
        // Each partition owns its ids; each batch creates one and updates the previous one.
        std::int64_t id = p * 1000 + b + 1;
        std::vector<ChangeEvent> events{EventBuilder::create(id, 1).build()};
        if (b > 0) events.push_back(EventBuilder::update(id - 1, 2).active(false).build());
        store.applyBatch(events, {{"potato", p, b + 1}});
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(reader_.count(Plant::Potato), kPartitions * kBatches);
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(reader_.nextOffset("potato", p), kBatches);
    for (int b = 0; b + 1 < kBatches; ++b) EXPECT_EQ(reader_.versionOf(Plant::Potato, p * 1000 + b + 1), 2);
  }
  EXPECT_EQ(reader_.groupBatches(), static_cast<std::uint64_t>(kPartitions * kBatches));
  EXPECT_LE(reader_.groupTransactions(), reader_.groupBatches());
}

}  // namespace
}  // namespace leafsync
