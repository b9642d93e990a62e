#include "DeadLetterRecord.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace leafsync {
namespace {

// Kafka's per-record framing (varints, attributes, header counts) and the batch header a
// lone record carries: generous, so a shaped record never misses its limit by a few bytes.
constexpr std::size_t kRecordOverheadBytes = 512;
// A key longer than this is cut too: keys are image ids, so a long one is garbage anyway.
constexpr std::size_t kMaxKeyBytes = 1024;

// Cuts to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view utf8Prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void markTruncated(DeadLetterRecord& record, const std::string& what, std::string_view original) {
  record.headers.emplace_back("leafsync.original." + what + "_bytes", std::to_string(original.size()));
  record.headers.emplace_back("leafsync.original." + what + "_sha256", sha256Hex(original));
}

}  // namespace

std::string capReason(std::string_view text, std::size_t max_bytes) {
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (text.size() <= max_bytes) return std::string(text);
  std::string capped(utf8Prefix(text, max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0));
  capped += kEllipsis;
  return capped;
}

std::size_t DeadLetterRecord::size() const {
  std::size_t total = key.size() + value.size();
  for (const auto& [name, value] : headers) total += name.size() + value.size();
  return total;
}

DeadLetterRecord shapeDeadLetter(const DeadLetter& letter, std::size_t max_record_bytes) {
  const InboundMessage& m = letter.message;
  DeadLetterRecord record;
  record.has_value = m.has_value;
  record.headers = {{"leafsync.reason", capReason(letter.reason, kReasonHeaderBytes)},
                    {"leafsync.source.topic", std::string(m.topic)},
                    {"leafsync.source.partition", std::to_string(m.partition)},
                    {"leafsync.source.offset", std::to_string(m.offset)},
                    {"leafsync.source.timestamp_ms", std::to_string(m.timestamp_ms)}};
  bool key_cut = m.key.size() > kMaxKeyBytes;
  record.key = std::string(m.key.substr(0, std::min(m.key.size(), kMaxKeyBytes)));
  if (key_cut) markTruncated(record, "key", m.key);
  // The headers a cut value adds have a fixed size: "true", its length, its hash.
  const std::size_t value_marks = std::string_view("leafsync.truncated").size() + 4 +
                                  std::string_view("leafsync.original.value_bytes").size() + 20 +
                                  std::string_view("leafsync.original.value_sha256").size() + 64;
  std::size_t fixed = record.size() + kRecordOverheadBytes;
  bool value_cut = fixed + m.value.size() > max_record_bytes;
  if (value_cut) {
    fixed += value_marks;
    std::size_t room = max_record_bytes > fixed ? max_record_bytes - fixed : 0;
    record.value = std::string(m.value.substr(0, std::min(room, m.value.size())));
    markTruncated(record, "value", m.value);
  } else {
    record.value = std::string(m.value);
  }
  if (key_cut || value_cut) record.headers.emplace_back("leafsync.truncated", "true");
  return record;
}

std::string sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

}  // namespace leafsync
