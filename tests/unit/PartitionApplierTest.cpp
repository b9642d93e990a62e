#include "PartitionApplier.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "leafsync/SqliteConnection.h"
#include "leafsync/SqliteStore.h"
#include "leafsync/StoreFactory.h"
#include "support/EventBuilder.h"
#include "support/Eventually.h"
#include "support/RecordingDeadLetters.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::eventually;

// A partition as a test scripts it: messages and consume errors in the order pushed, handed
// out as librdkafka's partition queue would. What was polled is freed on release(), so a
// view the applier kept past it is a use after free that ASan reports.
class ScriptedSource : public MessageSource {
 public:
  explicit ScriptedSource(std::int32_t partition = 0) : partition_(partition) {}
  void push(std::int64_t offset, std::string key, std::optional<std::string> value) {
    Entry entry{PolledMessage::Kind::Message, offset, std::move(key), std::move(value), ""};
    enqueue(std::move(entry));
  }
  void pushError(PolledMessage::Kind kind, std::string error) { enqueue({kind, 0, "", std::nullopt, std::move(error)}); }

  PolledMessage poll(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return !pending_.empty() || woken_; });
    woken_ = false;
    PolledMessage polled;
    if (pending_.empty()) return polled;  // Kind::Empty
    held_.push_back(std::move(pending_.front()));
    pending_.pop_front();
    const Entry& entry = held_.back();
    polled.kind = entry.kind;
    polled.error = entry.error;
    if (entry.kind == PolledMessage::Kind::Message) {
      polled.message.topic = kTopic;
      polled.message.partition = partition_;
      polled.message.offset = entry.offset;
      polled.message.key = entry.key;
      polled.message.has_value = entry.value.has_value();
      if (entry.value) polled.message.value = *entry.value;
    }
    return polled;
  }
  void release() override {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.clear();
  }
  void wake() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken_ = true;
    }
    arrived_.notify_all();
  }

  static constexpr std::string_view kTopic = "potato";

 private:
  struct Entry {
    PolledMessage::Kind kind;
    std::int64_t offset;
    std::string key;
    std::optional<std::string> value;
    std::string error;
  };
  void enqueue(Entry entry) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(std::move(entry));
    }
    arrived_.notify_all();
  }

  const std::int32_t partition_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Entry> pending_;
  std::deque<Entry> held_;  // a deque: what the applier views stays put while more is polled
  bool woken_ = false;
};

// One applier of partition 0 of topic potato over a real SQLite copy. The database can be
// made unreachable (new connections fail, like a PostgreSQL that refuses them).
class PartitionApplierTest : public ::testing::Test {
 protected:
  PartitionApplierTest()
      : copy_url_("sqlite:" + dir_.file("copy.db")),
        pool_(
            [this]() -> std::unique_ptr<Store> {
              if (database_away_) throw StoreError("connection refused");
              return openStore(copy_url_);
            },
            0),  // none kept idle: the applier holds its own for as long as it runs
        metrics_({"potato"}),
        status_(60000),
        context_{config_, topic_, pool_, dead_letters_, metrics_, status_,
                 [this](const PartitionOffset& offset, std::int64_t newest) { committed(offset, newest); },
                 [this](std::int32_t partition, Store& store) { return resolveStart(partition, store); },
                 [this](std::int32_t, std::int64_t offset) { seeked(offset); },
                 [this](std::int32_t) { return high_watermark_.load(); },
                 [this](const std::string& reason) { fatal(reason); }} {
    config_.linger_ms = 60000;      // long enough that any wait on it fails a test
    reader_ = openStore(copy_url_);  // creates the copy's schema
  }

  ~PartitionApplierTest() override {
    applier_.reset();
    appliers_.clear();
  }

  // Starts the applier; `start` as the rebalance read it, or none when that read failed.
  void startApplier(std::optional<std::int64_t> start) {
    status_.assigned("potato", 0, start.value_or(-1), false);
    auto source = std::make_unique<ScriptedSource>();
    source_ = source.get();
    applier_ = std::make_unique<PartitionApplier>(context_, 0, std::move(source), start);
  }

  // Starts appliers of partitions 0 .. count-1 of one copy, each from offset 0.
  void startAppliers(std::int32_t count) {
    for (std::int32_t p = 0; p < count; ++p) {
      status_.assigned("potato", p, 0, false);
      auto source = std::make_unique<ScriptedSource>(p);
      sources_.push_back(source.get());
      appliers_.push_back(std::make_unique<PartitionApplier>(context_, p, std::move(source), 0));
    }
  }

  std::vector<std::int64_t> commits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return commits_;
  }
  std::vector<std::int64_t> seeks() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seeks_;
  }
  std::vector<std::string> fatals() {
    std::lock_guard<std::mutex> lock(mutex_);
    return fatals_;
  }
  std::optional<std::int64_t> copyOffset() { return reader_->nextOffset("potato", 0); }
  bool copyHolds(std::int64_t id) { return reader_->find(Plant::Potato, id).has_value(); }
  std::string lastError() {
    for (const PartitionStatus& p : status_.partitions()) return p.last_error;
    return "";
  }

  testing::TempDir dir_;
  std::string copy_url_;
  std::atomic<bool> database_away_{false};
  ConsumerConfig config_;
  TopicConfig topic_{"potato", Plant::Potato, EventFormat::Native};
  ConnectionPool<Store> pool_;
  testing::RecordingDeadLetters dead_letters_;
  ConsumerMetrics metrics_;
  SyncStatus status_;
  std::atomic<std::int64_t> high_watermark_{-1};
  PartitionApplierContext context_;
  std::unique_ptr<Store> reader_;
  ScriptedSource* source_ = nullptr;  // owned by applier_
  std::unique_ptr<PartitionApplier> applier_;
  std::vector<ScriptedSource*> sources_;  // owned by appliers_, by partition
  std::vector<std::unique_ptr<PartitionApplier>> appliers_;

 private:
  void committed(const PartitionOffset& offset, std::int64_t newest) {
    std::lock_guard<std::mutex> lock(mutex_);
    commits_.push_back(offset.next_offset);
    status_.applied(offset.topic, offset.partition, offset.next_offset, -1, newest);
  }
  StartOffset resolveStart(std::int32_t partition, Store& store) {
    return {store.nextOffset("potato", partition).value_or(0), false};
  }
  void seeked(std::int64_t offset) {
    std::lock_guard<std::mutex> lock(mutex_);
    seeks_.push_back(offset);
  }
  void fatal(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    fatals_.push_back(reason);
  }

  std::mutex mutex_;
  std::vector<std::int64_t> commits_;
  std::vector<std::int64_t> seeks_;
  std::vector<std::string> fatals_;
};

TEST_F(PartitionApplierTest, AppliesMessagesInOrderAndCommitsThePartitionsNextOffsetWithThem) {
  startApplier(0);
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  source_->push(1, "1", EventBuilder::update(1, 2).active(true).json());
  source_->push(2, "2", EventBuilder::create(2, 1).json());
  ASSERT_TRUE(eventually([&] { return copyOffset() == 3; }, 5s)) << "offset " << copyOffset().value_or(-1);
  EXPECT_EQ(reader_->versionOf(Plant::Potato, 1), 2);
  EXPECT_TRUE(copyHolds(2));
}

TEST_F(PartitionApplierTest, CommitsAtOnceWhenTheQueueIsEmptyInsteadOfWaitingOutTheLinger) {
  startApplier(0);
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  EXPECT_TRUE(eventually([&] { return copyHolds(1); }, 5s)) << "the 60 s linger held a lone event";
}

TEST_F(PartitionApplierTest, LingersWhileTheHighWatermarkShowsMoreOfThePartitionOnItsWay) {
  high_watermark_ = 2;
  startApplier(0);
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(commits().empty()) << "committed although offset 1 was known to be coming";
  source_->push(1, "2", EventBuilder::create(2, 1).json());
  ASSERT_TRUE(eventually([&] { return copyOffset() == 2; }, 5s));
  EXPECT_EQ(commits(), std::vector<std::int64_t>{2}) << "both events in one transaction";
}

TEST_F(PartitionApplierTest, ABatchEndsAtTheBatchSize) {
  config_.batch_size = 2;
  startApplier(0);
  // Queued before the first poll can take any: the applier finds all five waiting.
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  source_->push(1, "2", EventBuilder::create(2, 1).json());
  source_->push(2, "3", EventBuilder::create(3, 1).json());
  source_->push(3, "4", EventBuilder::create(4, 1).json());
  source_->push(4, "5", EventBuilder::create(5, 1).json());
  ASSERT_TRUE(eventually([&] { return copyOffset() == 5; }, 5s));
  for (std::size_t i = 1; i < commits().size(); ++i) {
    EXPECT_LE(commits()[i] - commits()[i - 1], 2) << "a batch over batch_size";
  }
}

TEST_F(PartitionApplierTest, MessagesBelowTheResumeOffsetAreNotAppliedAgain) {
  startApplier(2);
  source_->push(0, "10", EventBuilder::create(10, 1).json());  // fetched before the seek took effect
  source_->push(1, "11", EventBuilder::create(11, 1).json());
  source_->push(2, "12", EventBuilder::create(12, 1).json());
  ASSERT_TRUE(eventually([&] { return copyOffset() == 3; }, 5s));
  EXPECT_TRUE(copyHolds(12));
  EXPECT_FALSE(copyHolds(10));
  EXPECT_FALSE(copyHolds(11));
}

TEST_F(PartitionApplierTest, ABadMessageIsDeadLetteredAndTheOffsetMovesPastIt) {
  startApplier(0);
  source_->push(0, "1", std::string("{not json"));
  source_->push(1, "2", EventBuilder::create(2, 1).json());
  ASSERT_TRUE(eventually([&] { return copyOffset() == 2; }, 5s));
  EXPECT_TRUE(copyHolds(2));
  ASSERT_EQ(dead_letters_.sent().size(), 1u);
  EXPECT_EQ(dead_letters_.sent()[0].offset, 0);
  EXPECT_EQ(dead_letters_.durable(), 1u);
}

TEST_F(PartitionApplierTest, ARefusedDeadLetterHoldsTheOffsetAndReportsWhyUntilItIsDelivered) {
  dead_letters_.refuseAll(true);
  startApplier(0);
  source_->push(0, "1", std::string("{not json"));
  source_->push(1, "2", EventBuilder::create(2, 1).json());
  ASSERT_TRUE(eventually([&] { return dead_letters_.sent().size() >= 2; }, 5s)) << "not retried";
  EXPECT_EQ(lastError(), "broker refused");
  EXPECT_FALSE(copyOffset()) << "the offset moved past a letter that is not durable";
  EXPECT_FALSE(copyHolds(2));
  EXPECT_GE(metrics_.dead_letter_failures.Value(), 2);

  dead_letters_.refuseAll(false);
  ASSERT_TRUE(eventually([&] { return copyOffset() == 2; }, 5s));
  EXPECT_TRUE(copyHolds(2));
  EXPECT_EQ(dead_letters_.durable(), 1u) << "acknowledged once";
}

TEST_F(PartitionApplierTest, WithoutAStartItReadsTheCopysOffsetRetryingWhileTheDatabaseIsAwayThenSeeks) {
  reader_->applyBatch({}, {{"potato", 0, 3}});
  database_away_ = true;
  startApplier(std::nullopt);
  for (std::int64_t offset = 0; offset < 5; ++offset) {
    source_->push(offset, std::to_string(offset + 1), EventBuilder::create(offset + 1, 1).json());
  }
  ASSERT_TRUE(eventually([&] { return metrics_.db_retries.Value() >= 2; }, 5s));
  EXPECT_EQ(lastError(), "connection refused");
  EXPECT_TRUE(commits().empty());

  database_away_ = false;
  ASSERT_TRUE(eventually([&] { return copyOffset() == 5; }, 10s));
  EXPECT_EQ(seeks(), std::vector<std::int64_t>{3});
  EXPECT_FALSE(copyHolds(3)) << "offset 2 lies below the copy's offset";
  EXPECT_TRUE(copyHolds(4));
  EXPECT_TRUE(copyHolds(5));
}

TEST_F(PartitionApplierTest, AStopDuringADatabaseOutageGivesTheBatchUpAndCommitsNothing) {
  database_away_ = true;
  startApplier(0);
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  ASSERT_TRUE(eventually([&] { return metrics_.db_retries.Value() >= 1; }, 5s));
  auto asked = std::chrono::steady_clock::now();
  applier_->requestStop();
  applier_->join();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s) << "the stop waited out the backoff";
  EXPECT_TRUE(commits().empty());
  EXPECT_FALSE(copyOffset());
  EXPECT_FALSE(copyHolds(1));
}

TEST_F(PartitionApplierTest, AStopCommitsTheBatchInHandFirst) {
  high_watermark_ = 100;  // so it lingers on the one it has
  startApplier(0);
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  std::this_thread::sleep_for(200ms);
  applier_->requestStop();
  applier_->join();
  EXPECT_EQ(copyOffset(), 1);
  EXPECT_TRUE(copyHolds(1));
}

TEST_F(PartitionApplierTest, AFatalConsumeErrorGoesToTheFatalHandler) {
  startApplier(0);
  source_->pushError(PolledMessage::Kind::Fatal, "static member fenced");
  ASSERT_TRUE(eventually([&] { return !fatals().empty(); }, 5s));
  EXPECT_NE(fatals()[0].find("potato/0: static member fenced"), std::string::npos) << fatals()[0];
}

TEST_F(PartitionApplierTest, ATransientConsumeErrorIsLoggedAndReadingGoesOn) {
  startApplier(0);
  source_->pushError(PolledMessage::Kind::Error, "broker transport failure");
  source_->push(0, "1", EventBuilder::create(1, 1).json());
  ASSERT_TRUE(eventually([&] { return copyHolds(1); }, 5s));
  EXPECT_TRUE(fatals().empty());
}

TEST_F(PartitionApplierTest, ThePartitionsReadyAtOnceCommitInOneSqliteTransactionEachInItsOrder) {
  // Partition 0 leads a transaction that waits on the file's writer mutex (held here); the
  // batches of partitions 1 and 2 arrive meanwhile and go into the next one together.
  SqliteConnection lock_holder(dir_.file("copy.db"));
  SqliteStore counter(dir_.file("copy.db"));
  startAppliers(3);
  for (std::int32_t p = 0; p < 3; ++p) {
    // A first event each, so every applier holds its connection (opening one migrates,
    // which takes the writer mutex).
    sources_[p]->push(0, std::to_string(100 + p), EventBuilder::create(100 + p, 1).json());
    ASSERT_TRUE(eventually([&] { return reader_->nextOffset("potato", p) == 1; }, 5s)) << p;
  }
  const std::uint64_t before = counter.groupTransactions();
  {
    std::lock_guard<std::mutex> held(lock_holder.writer());
    sources_[0]->push(1, "1", EventBuilder::create(1, 1).json());
    ASSERT_TRUE(eventually([&] { return lock_holder.groupCommit().writing(); }, 5s));
    for (std::int32_t p = 1; p < 3; ++p) {
      std::int64_t id = 10 * p;
      sources_[p]->push(1, std::to_string(id), EventBuilder::create(id, 1).json());
      sources_[p]->push(2, std::to_string(id), EventBuilder::update(id, 2).active(false).json());
      sources_[p]->push(3, std::to_string(id + 1), EventBuilder::create(id + 1, 1).json());
    }
    ASSERT_TRUE(eventually([&] { return lock_holder.groupCommit().queued() == 2; }, 5s));
  }
  for (std::int32_t p = 0; p < 3; ++p) {
    ASSERT_TRUE(eventually([&] { return reader_->nextOffset("potato", p) == (p == 0 ? 2 : 4); }, 5s)) << p;
  }
  EXPECT_EQ(counter.groupTransactions() - before, 2u) << "three partitions' batches, two transactions";
  EXPECT_EQ(reader_->versionOf(Plant::Potato, 10), 2);
  EXPECT_EQ(reader_->versionOf(Plant::Potato, 20), 2);
  EXPECT_TRUE(copyHolds(21));
  for (PartitionStatus& p : status_.partitions()) EXPECT_EQ(p.last_error, "") << p.partition;
}

TEST_F(PartitionApplierTest, APartitionWhoseBatchTheDatabaseRefusesStallsAloneWhileTheOthersCommit) {
  // The database refuses one row (as a constraint or a full disk would): the group it meets
  // fails, and its partition keeps failing while the others' batches commit.
  {
    SqliteConnection raw(dir_.file("copy.db"));
    raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON image_potato WHEN NEW.id = 666"
             " BEGIN SELECT RAISE(ABORT, 'refused'); END");
  }
  startAppliers(3);
  for (std::int64_t offset = 0; offset < 20; ++offset) {
    for (std::int32_t p = 0; p < 3; ++p) {
      std::int64_t id = p == 2 && offset == 5 ? 666 : 100 * p + offset + 1;
      sources_[p]->push(offset, std::to_string(id), EventBuilder::create(id, 1).json());
    }
  }
  ASSERT_TRUE(eventually([&] { return copyOffset() == 20 && reader_->nextOffset("potato", 1) == 20; }, 10s));
  EXPECT_LE(reader_->nextOffset("potato", 2).value_or(0), 5) << "moved past the refused row";
  EXPECT_FALSE(copyHolds(666));
  ASSERT_TRUE(eventually([&] { return metrics_.db_retries.Value() >= 2; }, 5s));
  for (const PartitionStatus& p : status_.partitions()) {
    if (p.partition == 2) {
      EXPECT_NE(p.last_error.find("refused"), std::string::npos) << p.last_error;
    } else {
      EXPECT_EQ(p.last_error, "") << "partition " << p.partition << " reported another's failure";
    }
  }
  {
    SqliteConnection raw(dir_.file("copy.db"));
    raw.exec("DROP TRIGGER refuse");
  }
  ASSERT_TRUE(eventually([&] { return reader_->nextOffset("potato", 2) == 20; }, 10s));
  EXPECT_TRUE(copyHolds(666));
}

}  // namespace
}  // namespace leafsync
