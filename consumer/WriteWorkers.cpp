#include "WriteWorkers.h"

namespace leafsync {

WriteWorkers::WriteWorkers(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WriteWorkers::~WriteWorkers() { stop(); }

bool WriteWorkers::submit(std::packaged_task<void()>& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void WriteWorkers::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool WriteWorkers::stopping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stop_;
}

void WriteWorkers::run() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();  // tasks queued before stop() still run: each answers its client
  }
}

}  // namespace leafsync
