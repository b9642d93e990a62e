#pragma once

#include <chrono>
#include <thread>

namespace leafsync::testing {

// Polls `condition` until it holds or the deadline passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds deadline,
                std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(every);
  }
  return condition();
}

}  // namespace leafsync::testing
