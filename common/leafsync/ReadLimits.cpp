#include "leafsync/ReadLimits.h"

#include "leafsync/ConsumerConfig.h"

namespace leafsync {

void checkReadLimits(const ReadLimits& limits) {
  if (limits.max_response_bytes < (64 << 10) || limits.max_response_bytes > (1 << 30)) {
    throw ConfigError("http.max_response_bytes must be in [65536, 1073741824]");
  }
  if (limits.large_response_bytes < (4 << 10) || limits.large_response_bytes > limits.max_response_bytes) {
    throw ConfigError("http.large_response_bytes must be in [4096, http.max_response_bytes]");
  }
  if (limits.large_response_slots < 1 || limits.large_response_slots > 256) {
    throw ConfigError("http.large_response_slots must be in [1, 256]");
  }
}

}  // namespace leafsync
