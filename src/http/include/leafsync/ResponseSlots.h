#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace leafsync {

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
