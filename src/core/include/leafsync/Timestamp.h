#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace leafsync {

std::int64_t nowMillis();  // wall clock, ms since the epoch: comparable across processes
std::int64_t nowMicros();

// "2023-10-08T15:39:49.123123" (UTC, microseconds, no zone suffix): the seed's format.
std::string isoTimestamp(std::int64_t micros_since_epoch);

// Accepts YYYY-MM-DDTHH:MM:SS (or a space for the T) with an optional fraction and an optional Z
// or ±HH:MM, and only real instants: year 0001-9999, a day that exists in its month (leap years
// by the Gregorian rule), hour 00-23, minute and second 00-59 (no leap second: the stores and the
// API do not represent one), offset hour 00-23 and minute 00-59 (RFC 3339's numoffset).
bool isIsoTimestamp(std::string_view text);

// Microseconds since the epoch of an ISO-8601 timestamp as the source writes them
// ("2023-10-08T15:39:49.123123", UTC; an explicit Z or ±HH:MM is honoured). Nothing when the
// text is not such a timestamp.
std::optional<std::int64_t> parseIsoMicros(std::string_view text);

// 9999-12-31T23:59:59.999Z: the last millisecond our ISO format can write.
inline constexpr std::int64_t kMaxEpochMillis = 253402300799999;

// Whether `ms` is a source time we can show: in [0, kMaxEpochMillis]. A larger one (say INT64_MAX)
// would overflow when turned into micros or a date and show as a nonsense time.
bool isEpochMillisInRange(std::int64_t ms);

}  // namespace leafsync
