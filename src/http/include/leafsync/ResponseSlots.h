#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace leafsync {

// What a read may build (docs/api.md, "Response limits", and the OpenAPI document): a listing
// stops adding images once its body would pass kMaxResponseBytes (its first image always
// goes in, so every page moves on), and a response passing kLargeResponseBytes needs one of
// kMaxLargeResponses slots, held until Pistache has written it; without one it is a 503 with
// Retry-After. So reads hold at most about kMaxLargeResponses × 2 × kMaxResponseBytes (the
// body and Pistache's copy of it) beyond the small ones.
inline constexpr std::size_t kMaxResponseBytes = std::size_t{8} << 20;
inline constexpr std::size_t kLargeResponseBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxLargeResponses = 4;
inline constexpr int kLargeResponseRetryAfterS = 1;

// A counting semaphore that never waits: tryAcquire() gives a token that holds one slot until
// the last copy of it is destroyed (it rides along with the response's write), or nullptr
// when every slot is taken. Thread-safe; a token outliving the
// ResponseSlots is fine (it shares the state).
class ResponseSlots {
 public:
  explicit ResponseSlots(std::size_t slots);
  std::shared_ptr<void> tryAcquire();
  std::size_t inUse() const;

 private:
  struct State {
    mutable std::mutex mutex;
    std::size_t free = 0;
    std::size_t total = 0;
  };
  std::shared_ptr<State> state_;
};

}  // namespace leafsync
