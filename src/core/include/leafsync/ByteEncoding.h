#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace leafsync {

// Image bytes travel as hex in the REST API (the seed's format) and as base64 in events
// (a third smaller on the wire, and what Debezium emits for bytea columns).
std::string hexEncode(std::string_view bytes);
std::optional<std::string> hexDecode(std::string_view hex);

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace leafsync
