#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "BatchApplier.h"

namespace leafsync {

// Reasons are capped before they reach a header or a log line: a decode error may quote the
// input, and the input may be the very thing that is too large.
inline constexpr std::size_t kReasonHeaderBytes = 1024;
inline constexpr std::size_t kLoggedReasonBytes = 256;

// `text` cut to at most `max_bytes` bytes on a UTF-8 character boundary, with "…" appended
// when something was cut.
std::string capReason(std::string_view text, std::size_t max_bytes);

// What goes to the dead-letter topic for one dead letter: the original key and value, and
// in headers the reason and where it came from (leafsync.reason, leafsync.source.topic,
// leafsync.source.partition, leafsync.source.offset, leafsync.source.timestamp_ms). A record
// that would not fit `max_record_bytes` (what the topic and the producer accept) has its
// value (and, if need be, its key) truncated to fit, and says so in headers:
// leafsync.truncated=true, leafsync.original.value_bytes, leafsync.original.value_sha256
// (hex), and the same for the key when it was cut.
struct DeadLetterRecord {
  std::string key;
  std::string value;
  bool has_value = true;
  std::vector<std::pair<std::string, std::string>> headers;

  std::size_t size() const;  // key + value + header names and values
};

DeadLetterRecord shapeDeadLetter(const DeadLetter& letter, std::size_t max_record_bytes);

std::string sha256Hex(std::string_view data);

}  // namespace leafsync
