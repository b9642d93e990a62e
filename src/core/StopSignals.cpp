#include "leafsync/StopSignals.h"

#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace leafsync {
sigset_t stopSignalSet() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

StopSignals::StopSignals() {
  sigset_t signals = stopSignalSet();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StopSignals::fail(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) return;
  reason_ = reason;
  failed_ = true;
}

std::optional<std::string> StopSignals::wait() {
  sigset_t signals = stopSignalSet();
  // Short waits, so a fatal error stops the process within a tenth of a second.
  const timespec tick{0, 100 * 1000 * 1000};
  while (!failed_) {
    int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number > 0) {
      signal_name_ = strsignal(signal_number);
      return std::nullopt;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

}  // namespace leafsync
