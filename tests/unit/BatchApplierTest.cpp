#include "BatchApplier.h"

#include <gtest/gtest.h>

#include <list>

#include "leafsync/StoreFactory.h"
#include "support/EventBuilder.h"
#include "support/RecordingDeadLetters.h"
#include "support/TempDir.h"

namespace leafsync {
namespace {

using testing::EventBuilder;
using testing::RecordingDeadLetters;

class BatchApplierTest : public ::testing::Test {
 protected:
  BatchApplierTest()
      : metrics_({"potato"}),
        store_(openStore("sqlite:" + dir_.file("copy.db"))),
        applier_(TopicConfig{"potato", Plant::Potato, EventFormat::Native}, dead_letters_, metrics_) {}

  InboundMessage message(std::int32_t partition, std::int64_t offset, const std::string& key,
                         const std::string& value) {
    keep_.push_back(key);
    keep_.push_back(value);
    InboundMessage m;
    m.topic = "potato";
    m.partition = partition;
    m.offset = offset;
    m.key = *std::next(keep_.rbegin());
    m.value = keep_.back();
    return m;
  }

  testing::TempDir dir_;
  ConsumerMetrics metrics_;
  RecordingDeadLetters dead_letters_;
  std::unique_ptr<Store> store_;
  BatchApplier applier_;
  std::list<std::string> keep_;
};

TEST_F(BatchApplierTest, MalformedMessageIsDeadLetteredWithItsReasonAndTheStreamGoesOn) {
  std::vector<InboundMessage> batch = {message(0, 10, "1", EventBuilder::create(1, 1).json()),
                                       message(0, 11, "2", "{broken"),
                                       message(0, 12, "3", EventBuilder::create(3, 1).json())};
  PreparedBatch prepared = applier_.prepare(batch);
  ASSERT_EQ(applier_.deliverDeadLetters(prepared), "");
  applier_.commit(*store_, prepared);

  ASSERT_EQ(dead_letters_.sent().size(), 1u);
  EXPECT_EQ(dead_letters_.durable(), 1u);
  EXPECT_EQ(dead_letters_.sent()[0].value, "{broken");
  EXPECT_EQ(dead_letters_.sent()[0].offset, 11);
  EXPECT_NE(dead_letters_.sent()[0].reason.find("malformed JSON"), std::string::npos);
  EXPECT_TRUE(store_->find(Plant::Potato, 1));
  EXPECT_TRUE(store_->find(Plant::Potato, 3));
  EXPECT_EQ(store_->nextOffset("potato", 0), 13) << "the offset moves past the dead letter";
  EXPECT_EQ(metrics_.topic("potato").dead_lettered.Value(), 1);
}

TEST_F(BatchApplierTest, EventOfAnotherPlantIsDeadLettered) {
  PreparedBatch prepared = applier_.prepare(
      {message(1, 0, "1", EventBuilder::create(1, 1, Plant::Tomato).json())});
  EXPECT_TRUE(prepared.events.empty());
  ASSERT_EQ(prepared.dead_letters.size(), 1u);
  EXPECT_EQ(prepared.dead_letters[0].reason, "plant 'tomato' does not belong on topic 'potato'");
}

TEST_F(BatchApplierTest, OffsetsAreTheNextOffsetOfEachPartition) {
  PreparedBatch prepared = applier_.prepare({message(0, 5, "1", EventBuilder::create(1, 1).json()),
                                             message(2, 7, "2", EventBuilder::create(2, 1).json()),
                                             message(0, 6, "1", EventBuilder::update(1, 2).active(true).json())});
  ASSERT_EQ(prepared.offsets.size(), 2u);
  EXPECT_EQ(prepared.offsets[0].partition, 0);
  EXPECT_EQ(prepared.offsets[0].next_offset, 7);
  EXPECT_EQ(prepared.offsets[1].partition, 2);
  EXPECT_EQ(prepared.offsets[1].next_offset, 8);
}

TEST_F(BatchApplierTest, KafkaTombstoneIsSkippedButItsOffsetCounts) {
  InboundMessage tombstone = message(0, 3, "1", "");
  tombstone.has_value = false;
  PreparedBatch prepared = applier_.prepare({tombstone});
  EXPECT_TRUE(prepared.events.empty());
  EXPECT_TRUE(prepared.dead_letters.empty());
  EXPECT_EQ(prepared.offsets.at(0).next_offset, 4);
  EXPECT_EQ(metrics_.topic("potato").ignored_tombstone.Value(), 1);
}

TEST_F(BatchApplierTest, UndeliverableDeadLetterIsCountedAndTheBatchCannotCommit) {
  dead_letters_.refuseAll(true);
  PreparedBatch prepared = applier_.prepare({message(0, 0, "1", EventBuilder::create(1, 1).json()),
                                             message(0, 1, "2", "nope")});
  EXPECT_EQ(applier_.deliverDeadLetters(prepared), "broker refused");
  EXPECT_EQ(applier_.deliverDeadLetters(prepared), "broker refused");
  EXPECT_EQ(metrics_.dead_letter_failures.Value(), 2) << "every failed attempt counts";
  EXPECT_THROW(applier_.commit(*store_, prepared), std::logic_error);
  EXPECT_FALSE(store_->nextOffset("potato", 0));
  EXPECT_FALSE(store_->find(Plant::Potato, 1));
}

TEST_F(BatchApplierTest, RetryResendsOnlyTheDeadLettersNotYetAcknowledged) {
  dead_letters_.refuseValues({"second"});
  PreparedBatch prepared = applier_.prepare({message(0, 0, "1", "first"), message(0, 1, "2", "second")});
  EXPECT_NE(applier_.deliverDeadLetters(prepared), "");
  dead_letters_.refuseValues({});
  EXPECT_EQ(applier_.deliverDeadLetters(prepared), "");
  ASSERT_EQ(dead_letters_.sent().size(), 3u);
  EXPECT_EQ(dead_letters_.sent()[2].value, "second") << "the acknowledged letter is not sent again";
  EXPECT_EQ(dead_letters_.durable(), 2u);
  EXPECT_EQ(metrics_.topic("potato").dead_lettered.Value(), 2);
  applier_.commit(*store_, prepared);
  EXPECT_EQ(store_->nextOffset("potato", 0), 2);
}

TEST_F(BatchApplierTest, CommitCountsAppliedAndIgnoredEvents) {
  applier_.commit(*store_, applier_.prepare({message(0, 0, "1", EventBuilder::create(1, 1).json()),
                                              message(0, 1, "1", EventBuilder::create(1, 1).json()),
                                              message(0, 2, "4", EventBuilder::update(4, 2).active(true).json())}));
  auto& m = metrics_.topic("potato");
  EXPECT_EQ(m.applied[static_cast<int>(Op::Create)]->Value(), 1);
  EXPECT_EQ(m.ignored_stale.Value(), 1);
  EXPECT_EQ(m.events_parked_total.Value(), 1) << "the update of image 4, which the copy lacks";
  EXPECT_EQ(m.events_consumed.Value(), 3);
}

TEST_F(BatchApplierTest, ParkedGaugeFollowsTheCopyAndReleasesCountAsUpdates) {
  applier_.commit(*store_, applier_.prepare({message(0, 0, "4", EventBuilder::update(4, 2).active(true).json())}));
  auto& m = metrics_.topic("potato");
  EXPECT_EQ(m.events_parked.Value(), 1);
  applier_.commit(*store_, applier_.prepare({message(0, 1, "4", EventBuilder::create(4, 1).json())}));
  EXPECT_EQ(m.events_parked.Value(), 0);
  EXPECT_EQ(m.applied[static_cast<int>(Op::Update)]->Value(), 1);
  EXPECT_EQ(m.events_parked_total.Value(), 1);
}

}  // namespace
}  // namespace leafsync
