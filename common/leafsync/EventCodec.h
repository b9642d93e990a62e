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

using DecodeResult = std::variant<ChangeEvent, DecodeError>;

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

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace leafsync
