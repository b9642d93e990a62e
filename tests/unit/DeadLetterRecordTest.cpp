#include "DeadLetterRecord.h"

#include <gtest/gtest.h>

namespace leafsync {
namespace {

DeadLetter letter(const std::string& key, const std::string& value, const std::string& reason) {
  static std::vector<std::string> keep;  // the views below must outlive the letter
  keep.reserve(1000);
  keep.push_back(key);
  std::string_view k = keep.back();
  keep.push_back(value);
  std::string_view v = keep.back();
  InboundMessage m;
  m.topic = "potato";
  m.partition = 2;
  m.offset = 41;
  m.key = k;
  m.value = v;
  m.timestamp_ms = 1700000000000;
  return {m, reason};
}

std::string header(const DeadLetterRecord& record, const std::string& name) {
  for (const auto& [n, v] : record.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

TEST(DeadLetterRecordTest, SmallMessageKeepsKeyValueAndSaysWhereItCameFrom) {
  DeadLetterRecord record = shapeDeadLetter(letter("7", "{not json", "malformed JSON"), 1000000);
  EXPECT_EQ(record.key, "7");
  EXPECT_EQ(record.value, "{not json");
  EXPECT_EQ(header(record, "leafsync.reason"), "malformed JSON");
  EXPECT_EQ(header(record, "leafsync.source.topic"), "potato");
  EXPECT_EQ(header(record, "leafsync.source.partition"), "2");
  EXPECT_EQ(header(record, "leafsync.source.offset"), "41");
  EXPECT_EQ(header(record, "leafsync.truncated"), "<absent>");
}

TEST(DeadLetterRecordTest, ValueTooLargeForTheTopicIsCutToFitWithItsSizeAndHash) {
  std::string big = "{\"op\":\"" + std::string(700000, 'x') + "\"}";
  DeadLetterRecord record = shapeDeadLetter(letter("8", big, "unknown op"), 100000);
  EXPECT_LE(record.size() + 512, 100000u) << "fits with room for Kafka's framing";
  EXPECT_EQ(record.value, big.substr(0, record.value.size()));
  EXPECT_GT(record.value.size(), 90000u) << "keeps as much of the value as fits";
  EXPECT_EQ(header(record, "leafsync.truncated"), "true");
  EXPECT_EQ(header(record, "leafsync.original.value_bytes"), std::to_string(big.size()));
  EXPECT_EQ(header(record, "leafsync.original.value_sha256"), sha256Hex(big));
}

TEST(DeadLetterRecordTest, ReasonIsCappedAtOneKibibyte) {
  DeadLetterRecord record = shapeDeadLetter(letter("9", "x", std::string(5000, 'r')), 1000000);
  EXPECT_LE(header(record, "leafsync.reason").size(), kReasonHeaderBytes);
}

TEST(DeadLetterRecordTest, CapReasonNeverSplitsAUtf8Character) {
  std::string capped = capReason("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 6);  // "éééé", 8 bytes
  EXPECT_EQ(capped, "\xC3\xA9\xE2\x80\xA6");                                // "é…"
}

TEST(DeadLetterRecordTest, Sha256OfKnownInput) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace leafsync
