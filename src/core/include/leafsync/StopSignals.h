#pragma once

#include <signal.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

namespace leafsync {

// SIGTERM and SIGINT: the signals that stop a service.
sigset_t stopSignalSet();

// How a service's main thread learns it must stop: SIGTERM/SIGINT, or a fatal error reported
// by any of its threads. Construct it in main before any thread starts: it blocks the stop
// signals, so only wait() receives them. Thread-safe.
class StopSignals {
 public:
  StopSignals();

  // A thread cannot go on: the process stops as after a signal, and exits non-zero. The
  // first reason is kept.
  void fail(const std::string& reason);
  // Blocks until a stop signal or fail(). Returns the fatal reason, or nullopt for a signal
  // (whose name is then in signalName()).
  std::optional<std::string> wait();
  const std::string& signalName() const { return signal_name_; }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::string reason_;
  std::string signal_name_;
};

}  // namespace leafsync
