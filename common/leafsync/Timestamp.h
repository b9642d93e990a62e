#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace leafsync {

std::int64_t nowMillis();  // wall clock, ms since the epoch: comparable across processes
std::int64_t nowMicros();

// "2023-10-08T15:39:49.123123" (UTC, microseconds, no zone suffix): the seed's format.
std::string isoTimestamp(std::int64_t micros_since_epoch);

// Accepts YYYY-MM-DDTHH:MM:SS with optional fraction and optional Z or ±HH:MM.
bool isIsoTimestamp(std::string_view text);

}  // namespace leafsync
