#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "BatchApplier.h"

namespace leafsync::testing {

// A dead-letter sink that records every letter it is handed; it can be told to refuse all or
// some of them, like a topic that rejects a record or a broker that is away. Thread-safe: a
// partition applier delivers on its own thread while a test reads and steers it.
class RecordingDeadLetters : public DeadLetterSink {
 public:
  struct Letter {
    std::string key, value, reason;
    std::int32_t partition;
    std::int64_t offset;
  };

  std::string deliver(const std::vector<DeadLetter*>& letters) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string error;
    for (DeadLetter* letter : letters) {
      const InboundMessage& m = letter->message;
      sent_.push_back({std::string(m.key), std::string(m.value), letter->reason, m.partition, m.offset});
      if (refuse_all_ || refuse_values_.count(std::string(m.value))) {
        error = "broker refused";
        continue;
      }
      letter->delivered = true;
      ++durable_;
    }
    return error;
  }

  void refuseAll(bool refuse) {
    std::lock_guard<std::mutex> lock(mutex_);
    refuse_all_ = refuse;
  }
  void refuseValues(std::set<std::string> values) {
    std::lock_guard<std::mutex> lock(mutex_);
    refuse_values_ = std::move(values);
  }
  std::vector<Letter> sent() const {  // every attempt, refused ones included
    std::lock_guard<std::mutex> lock(mutex_);
    return sent_;
  }
  std::size_t durable() const {  // letters acknowledged
    std::lock_guard<std::mutex> lock(mutex_);
    return durable_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Letter> sent_;
  std::size_t durable_ = 0;
  bool refuse_all_ = false;
  std::set<std::string> refuse_values_;
};

}  // namespace leafsync::testing
