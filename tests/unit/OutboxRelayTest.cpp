#include "OutboxRelay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "leafsync/EventCodec.h"
#include "leafsync/SqliteSourceStore.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

// Records what the relay sends and answers for the broker on the next collect(): acknowledges,
// refuses (all, or chosen events once), or stays silent like a broker that is away.
class RecordingPublisher : public EventPublisher {
 public:
  struct Sent {
    std::string topic, key, value;
    std::int64_t seq = 0;
  };
  void send(const std::string& topic, const std::string& key, const std::string& value, std::int64_t token) override {
    sent.push_back({topic, key, value, token});
    unanswered.push_back(token);
    ++sends;
  }
  std::size_t sendToAllPartitions(const std::string& topic, const std::string& key, const std::string& value,
                                  std::int64_t token) override {
    for (int partition = 0; partition < 3; ++partition) {
      sent.push_back({topic, key, value, token});
      unanswered.push_back(token);
    }
    return 3;
  }
  void collect(std::vector<Delivery>& out) override {
    ++collects;
    if (broker_away) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return;
    }
    if (silent_collects > 0) {
      --silent_collects;
      return;
    }
    std::size_t n = answer_limit < 0 ? unanswered.size() : std::min(unanswered.size(), std::size_t(answer_limit));
    for (std::size_t i = 0; i < n; ++i) {
      bool refused = broker_refuses || refuse_once.erase(unanswered[i]) > 0;
      out.push_back({unanswered[i], !refused});
    }
    unanswered.erase(unanswered.begin(), unanswered.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::vector<Sent> sent;  // read it once the relay's thread is stopped
  std::vector<std::int64_t> unanswered;
  std::atomic<int> sends{0};
  bool broker_refuses = false;
  bool broker_away = false;
  std::set<std::int64_t> refuse_once;  // these seqs are refused the first time they are answered
  int silent_collects = 0;  // this many collects find everything still on its way
  int answer_limit = -1;    // a collect answers at most this many (the oldest first); -1: all
  int collects = 0;
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
  EXPECT_EQ(relay_->publishOnce(), 0u) << "sent, not yet acknowledged";
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
  relay_->publishOnce();
  EXPECT_EQ(publisher_->sent.size(), 2u);
  EXPECT_EQ(relay_->publishOnce(), 2u);
  EXPECT_EQ(writer_.pendingCount(), 1);
  EXPECT_EQ(relay_->publishOnce(), 1u);
}

TEST_F(OutboxRelayTest, RefusedEventsStayInTheOutboxAndAreSentAgain) {
  writer_.create(Plant::Potato, image());
  publisher_->broker_refuses = true;
  EXPECT_EQ(relay_->publishOnce(), 0u);  // sent
  EXPECT_EQ(relay_->publishOnce(), 0u);  // refused, and sent again
  EXPECT_EQ(writer_.pendingCount(), 1) << "nothing is deleted before the broker acknowledged it";
  EXPECT_EQ(metrics_.publish_failures.Value(), 1);
  publisher_->broker_refuses = false;
  EXPECT_EQ(relay_->publishOnce(), 1u);
  EXPECT_EQ(publisher_->sent.size(), 2u) << "the retry re-sends: at least once, duplicates are absorbed downstream";
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, EventsStillOnTheirWayAreWaitedForNotSentAgain) {
  writer_.create(Plant::Potato, image());
  EXPECT_EQ(relay_->publishOnce(), 0u);  // sent
  publisher_->silent_collects = 3;       // a broker away for a while
  for (int i = 0; i < 3; ++i) EXPECT_EQ(relay_->publishOnce(), 0u);
  EXPECT_EQ(writer_.pendingCount(), 1);
  EXPECT_EQ(relay_->publishOnce(), 1u);
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
  relay_->publishOnce();
  EXPECT_EQ(relay_->publishOnce(), 1u);
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, SnapshotMarkerGoesToEveryPartitionAfterTheRows) {
  writer_.create(Plant::Tomato, image());
  writer_.enqueueSnapshot(Plant::Tomato, 0, 100);
  writer_.enqueueSnapshotEnd(Plant::Tomato, 1);
  for (int pass = 0; pass < 10; ++pass) relay_->publishOnce();
  EXPECT_EQ(writer_.pendingCount(), 0);
  ASSERT_EQ(publisher_->sent.size(), 5u);
  EXPECT_EQ(publisher_->sent[1].key, "1") << "the snapshot row";
  for (std::size_t i = 2; i < 5; ++i) EXPECT_EQ(publisher_->sent[i].key, kSnapshotMarkerKey);
}

TEST_F(OutboxRelayTest, KeepsSendingWhileEarlierBatchesAreUnacknowledged) {
  for (int i = 0; i < 6; ++i) writer_.create(Plant::Potato, image());
  publisher_->broker_away = true;
  for (int pass = 0; pass < 3; ++pass) EXPECT_EQ(relay_->publishOnce(), 0u);
  EXPECT_EQ(publisher_->sent.size(), 6u) << "three batches of two on their way at once";
  EXPECT_EQ(writer_.pendingCount(), 6) << "none deleted before its acknowledgement";
  publisher_->broker_away = false;
  EXPECT_EQ(relay_->publishOnce(), 6u);
  EXPECT_EQ(writer_.pendingCount(), 0);
}

TEST_F(OutboxRelayTest, AFailureInThePipelineKeepsTheOutboxFromTheFailedEventOnAndResendsFromIt) {
  for (int i = 0; i < 6; ++i) writer_.create(Plant::Potato, image());
  std::vector<OutboxEntry> outbox = writer_.pendingEvents(10);
  publisher_->broker_away = true;
  for (int pass = 0; pass < 3; ++pass) relay_->publishOnce();
  ASSERT_EQ(publisher_->sent.size(), 6u);
  publisher_->broker_away = false;
  publisher_->refuse_once = {outbox[2].seq};  // the third event fails; the ones after it arrive
  // One pass takes the answers: the first two are deleted, nothing past the failed third,
  // although the three after it were acknowledged.
  EXPECT_EQ(relay_->publishOnce(), 2u);
  EXPECT_EQ(metrics_.publish_failures.Value(), 1);
  std::vector<OutboxEntry> left = writer_.pendingEvents(10);
  ASSERT_EQ(left.size(), 4u);
  EXPECT_EQ(left.front().seq, outbox[2].seq) << "the outbox holds from the failed event on";
  for (int pass = 0; pass < 10 && writer_.pendingCount() > 0; ++pass) relay_->publishOnce();
  EXPECT_EQ(writer_.pendingCount(), 0);
  // Sent again from the failed one, in commit order; the duplicates are the same bytes, so the
  // same versions, which the consumer's version rule applies once.
  ASSERT_EQ(publisher_->sent.size(), 10u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(publisher_->sent[i].seq, outbox[i].seq);
  for (std::size_t i = 6; i < 10; ++i) {
    EXPECT_EQ(publisher_->sent[i].seq, outbox[i - 4].seq);
    EXPECT_EQ(publisher_->sent[i].value, outbox[i - 4].value);
  }
  EXPECT_EQ(metrics_.events_published.Value(), 6) << "each event counted published once";
}

TEST_F(OutboxRelayTest, AFailureWaitsForEveryEventInFlightBeforeSendingAgain) {
  for (int i = 0; i < 6; ++i) writer_.create(Plant::Potato, image());
  std::vector<OutboxEntry> outbox = writer_.pendingEvents(10);
  publisher_->broker_away = true;
  relay_->publishOnce();
  relay_->publishOnce();  // two batches on their way
  ASSERT_EQ(publisher_->sent.size(), 4u);
  publisher_->broker_away = false;
  publisher_->answer_limit = 2;  // the first batch is answered, its first event refused
  publisher_->refuse_once = {outbox[0].seq};
  EXPECT_EQ(relay_->publishOnce(), 0u);
  EXPECT_EQ(publisher_->sent.size(), 4u) << "nothing goes out while events sent before are unanswered";
  EXPECT_EQ(writer_.pendingCount(), 6) << "the acknowledged second event is not deleted past the failed first";
  publisher_->answer_limit = -1;
  relay_->publishOnce();  // the rest answered: sent again from the first
  ASSERT_EQ(publisher_->sent.size(), 6u);
  EXPECT_EQ(publisher_->sent[4].seq, outbox[0].seq);
  for (int pass = 0; pass < 10 && writer_.pendingCount() > 0; ++pass) relay_->publishOnce();
  EXPECT_EQ(writer_.pendingCount(), 0);
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
