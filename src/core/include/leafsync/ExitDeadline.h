#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace leafsync {

// Bounds how long a service's teardown may take once it has stopped. librdkafka 2.0.2
// (Debian's) can hang for ever destroying a consumer that has already closed and left its
// group (a partition reference leaked since 2.0.0, confluentinc/librdkafka#4674): the process
// logged `stopped exit_code=0` and never exited, so its pod would sit in Terminating until
// killed. By then every offset is in the copy and what is left is freeing memory, so once the
// grace has passed the process logs `teardown_stuck` and exits with the status it stopped with.
// Declare it before what it guards (it is destroyed after them), arm() it once stopped.
class ExitDeadline {
 public:
  ExitDeadline() = default;
  ExitDeadline(const ExitDeadline&) = delete;
  ExitDeadline& operator=(const ExitDeadline&) = delete;
  ~ExitDeadline();  // the teardown finished in time: disarms

  void arm(int exit_code, std::chrono::milliseconds grace);

 private:
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  std::thread watcher_;
};

}  // namespace leafsync
