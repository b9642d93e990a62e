#include "leafsync/StopSignals.h"

#include <pthread.h>
#include <unistd.h>

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

namespace {

// What fail() sends the process to end wait() at once (blocked in every thread, as the stop
// signals are, so only wait() takes it).
constexpr int kWakeSignal = SIGUSR2;

sigset_t waitedSignals() {
  sigset_t signals = stopSignalSet();
  sigaddset(&signals, kWakeSignal);
  return signals;
}

}  // namespace

StopSignals::StopSignals() {
  sigset_t signals = waitedSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StopSignals::fail(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) return;
  reason_ = reason;
  failed_ = true;
  kill(getpid(), kWakeSignal);
}

std::optional<std::string> StopSignals::wait() {
  sigset_t signals = waitedSignals();
  // fail() wakes the wait with kWakeSignal, so an idle process's main thread sleeps; the tick
  // is only a safety net.
  const timespec tick{5, 0};
  while (!failed_) {
    int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number > 0 && signal_number != kWakeSignal) {
      signal_name_ = strsignal(signal_number);
      return std::nullopt;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

}  // namespace leafsync
