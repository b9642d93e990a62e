#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace leafsync {

// A fuzz input is a Kafka message: the key, a newline, the value (so the seed corpus is
// readable and a crash's input can be replayed by hand with kcat -K'\n').
struct FuzzMessage {
  std::string_view key;
  std::string_view value;
};

inline FuzzMessage splitFuzzInput(const std::uint8_t* data, std::size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto newline = all.find('\n');
  if (newline == std::string_view::npos) return {{}, all};
  return {all.substr(0, newline), all.substr(newline + 1)};
}

}  // namespace leafsync
