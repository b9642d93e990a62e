#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "leafsync/ChangeEvent.h"

namespace leafsync {

struct DecodeError {
  std::string reason;
};

// The end of one plant's snapshot, published to every partition of the plant's topic after
// the snapshot rows, so a rebuilding copy knows when each partition has all of them.
struct SnapshotMarker {
  Plant plant = Plant::Potato;
  std::int64_t rows = 0;  // rows in the snapshot
  std::int64_t source_ts_ms = 0;
};
inline constexpr const char* kSnapshotMarkerKey = "snapshot-end";

using DecodeResult = std::variant<ChangeEvent, DecodeError, SnapshotMarker>;

// The native event format (docs/events.md): JSON value, key = the image id in decimal.
// Decoding is pure (bytes in, event or reason out) and validates everything the store relies
// on, so a bad message is dead-lettered instead of half-applied.
// Not thread-safe: it reuses one parser; give each consumer thread its own codec.
class EventCodec {
 public:
  EventCodec();
  ~EventCodec();
  EventCodec(const EventCodec&) = delete;
  EventCodec& operator=(const EventCodec&) = delete;

  DecodeResult decode(std::string_view key, std::string_view value);

  static std::string encode(const ChangeEvent& event);
  static std::string encodeKey(std::int64_t id);
  static std::string encodeMarker(const SnapshotMarker& marker);

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace leafsync
