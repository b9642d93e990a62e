#include "leafsync/ExitDeadline.h"

#include <cstdlib>

#include "leafsync/Log.h"

namespace leafsync {

void ExitDeadline::arm(int exit_code, std::chrono::milliseconds grace) {
  if (watcher_.joinable()) return;
  watcher_ = std::thread([this, exit_code, grace] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finished_.wait_for(lock, grace, [this] { return done_; })) return;
    logEvent(LogLevel::Warn, "teardown_stuck",
             {{"after_ms", static_cast<std::int64_t>(grace.count())}, {"exit_code", exit_code}});
    std::_Exit(exit_code);  // the stuck destructor holds no state worth waiting for
  });
}

ExitDeadline::~ExitDeadline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  finished_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace leafsync
