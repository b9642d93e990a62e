#include "OutboxRelay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteSourceStore.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

// Records what the relay sends; can refuse acknowledgement like a broker that rejects events,
// or keep them on their way like one that is away.
class RecordingPublisher : public EventPublisher {
 public:
  struct Sent {
    std::string topic, key, value;
  };
  void send(const std::string& topic, const std::string& key, const std::string& value) override {
    sent.push_back({topic, key, value});
    ++sends;
  }
  void sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value) override {
    for (int partition = 0; partition < 3; ++partition) sent.push_back({topic, key, value});
  }
  FlushResult flush(std::chrono::milliseconds) override {
    ++flushes;
    if (broker_refuses) return FlushResult::Failed;
    if (broker_away) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return FlushResult::Pending;
    }
    if (pending_flushes > 0) {
      --pending_flushes;
      return FlushResult::Pending;
    }
    return FlushResult::Acknowledged;
  }
  std::vector<Sent> sent;  // read it once the relay's thread is stopped
  std::atomic<int> sends{0};
  bool broker_refuses = false;
  bool broker_away = false;
  int pending_flushes = 0;  // this many flushes find the events still on their way
  int flushes = 0;
};

class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest() {
    auto publisher = std::make_unique<RecordingPublisher>();
    publisher_ = publisher.get();
    relay_ = std::make_unique<OutboxRelay>([this]() -> std::unique_ptr<SourceStore> {
                                             if (source_away_) throw StoreError("connection refused");
                                             return std::make_unique<SqliteSourceStore>(dir_.file("source.db"));
                                           },
                                           std::move(publisher),
                                           std::array<std::string, 3>{"t-potato", "t-tomato", "t-pepper"}, 2, 10,
                                           metrics_);
  }
  NewImage image() { return NewImage{1, "bytes", 1, 2}; }

  testing::TempDir dir_;
  SqliteSourceStore writer_{dir_.file("source.db")};
  ProducerMetrics metrics_;
  RecordingPublisher* publisher_ = nullptr;
  bool source_away_ = false;  // the relay's source cannot be opened
  std::unique_ptr<OutboxRelay> relay_;
};

TEST_F(OutboxRelayTest, PublishesToThePlantTopicKeyedByImageIdInCommitOrder) {
  writer_.create(Plant::Tomato, image());
  writer_.create(Plant::Potato, image());
  EXPECT_EQ(relay_->publishOnce(), 2u);
  ASSERT_EQ(publisher_->sent.size(), 2u);
  EXPECT_EQ(publisher_->sent[0].topic, "t-tomato");
  EXPECT_EQ(publisher_->sent[0].key, "1");
  EXPECT_EQ(publisher_->sent[1].topic, "t-potato");
  EXPECT_EQ(writer_.pendingCount(), 0);
  EXPECT_EQ(metrics_.events_published.Value(), 2);
}

TEST_F(OutboxRelayTest, PublishesInBatchesOfTheConfiguredSize) {
  for (int i = 0; i < 3; ++i) writer_.create(Plant::Potato, image());
  EXPECT_EQ(relay_->publishOnce(), 2u);
  EXPECT_EQ(writer_.pendingCount(), 1);
  EXPECT_EQ(relay_->publishOnce(), 1u);
}

TEST_F(OutboxRelayTest, RefusedEventsStayInTheOutboxAndAreSentAgain) {
  writer_.create(Plant::Potato, image());
  publisher_->broker_refuses = true;
  EXPECT_EQ(relay_->publishOnce(), 0u);
  EXPECT_EQ(writer_.pendingCount(), 1) << "nothing is deleted before the broker acknowledged it";
  EXPECT_EQ(metrics_.publish_failures.Value(), 1);
  publisher_->broker_refuses = false;
  EXPECT_EQ(relay_->publishOnce(), 1u);
  EXPECT_EQ(publisher_->sent.size(), 2u) << "the retry re-sends: at least once, duplicates are absorbed downstream";
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, EventsStillOnTheirWayAreWaitedForNotSentAgain) {
  writer_.create(Plant::Potato, image());
  publisher_->pending_flushes = 3;  // a broker away for a while
  EXPECT_EQ(relay_->publishOnce(), 1u);
  EXPECT_EQ(publisher_->flushes, 4);
  EXPECT_EQ(publisher_->sent.size(), 1u) << "sent once, acknowledged once the broker is back";
  EXPECT_EQ(metrics_.publish_failures.Value(), 0) << "an outage delays publishing; it does not fail it";
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, StopWhileTheBrokerIsAwayLeavesTheEventsInTheOutboxForTheNextStart) {
  publisher_->broker_away = true;
  relay_->start();
  writer_.create(Plant::Pepper, image());
  relay_->notify();
  for (int i = 0; i < 500 && publisher_->sends == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(publisher_->sends, 1) << "the relay sent the event";
  relay_->stop();
  EXPECT_EQ(writer_.pendingCount(), 1) << "unacknowledged: still in the outbox";
  EXPECT_EQ(publisher_->sent.size(), 1u) << "not queued a second time on the way out";
}

TEST_F(OutboxRelayTest, ASourceThatCannotBeOpenedYetIsOpenedOnALaterPass) {
  writer_.create(Plant::Potato, image());
  source_away_ = true;  // PostgreSQL not up yet when the producer starts
  EXPECT_EQ(relay_->publishOnce(), 0u);
  EXPECT_TRUE(publisher_->sent.empty());
  source_away_ = false;
  EXPECT_EQ(relay_->publishOnce(), 1u);
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, SnapshotMarkerGoesToEveryPartitionAfterTheRows) {
  writer_.create(Plant::Tomato, image());
  writer_.enqueueSnapshot(Plant::Tomato, 0, 100);
  writer_.enqueueSnapshotEnd(Plant::Tomato, 1);
  while (relay_->publishOnce() > 0) {
  }
  ASSERT_EQ(publisher_->sent.size(), 5u);
  EXPECT_EQ(publisher_->sent[1].key, "1") << "the snapshot row";
  for (std::size_t i = 2; i < 5; ++i) EXPECT_EQ(publisher_->sent[i].key, kSnapshotMarkerKey);
}

TEST_F(OutboxRelayTest, StopDrainsWhatIsCommitted) {
  relay_->start();
  for (int i = 0; i < 5; ++i) writer_.create(Plant::Pepper, image());
  relay_->stop();
  EXPECT_EQ(writer_.pendingCount(), 0);
  EXPECT_EQ(publisher_->sent.size(), 5u);
}

}  // namespace
}  // namespace leafsync
