#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace leafsync {

// A few threads of their own for forwarded writes, which wait on the producer and then on
// the copy: run on the HTTP threads, a handful of slow writes would leave none for reads and
// probes. The queue is bounded, so a burst is refused (503) rather than queued without end.
// stop() runs nothing more and joins; tasks check stopping() to end their waits early.
class WriteWorkers {
 public:
  WriteWorkers(std::size_t threads, std::size_t max_queued);
  ~WriteWorkers();  // stop()

  // false when the queue is full or stop() was called; the task is then not run.
  bool submit(std::packaged_task<void()>& task);
  void stop();
  bool stopping() const;

 private:
  void run();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace leafsync
