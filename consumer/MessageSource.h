#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace leafsync {

// A Kafka message as the applier sees it: views into a message its source holds.
struct InboundMessage {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string_view key;
  std::string_view value;
  bool has_value = true;  // false for a Kafka tombstone (null value)
  std::int64_t timestamp_ms = 0;
};

// What one read of a partition gave.
struct PolledMessage {
  enum class Kind {
    Message,  // `message` holds it
    Empty,    // nothing arrived within the timeout (or the end of the partition was reached)
    Error,    // a transient consume error, in `error`: reading goes on
    Fatal,    // the client cannot go on (e.g. a fenced static member), in `error`
  };
  Kind kind = Kind::Empty;
  InboundMessage message;
  std::string error;
};

// One partition's messages in Kafka order, as its PartitionApplier reads them. The seam
// between the applier and librdkafka: batching, retries, dead letters and stops are tested
// with a scripted source, without a broker. A message's views stay valid until release(),
// which the applier calls once it no longer holds any message polled before (its batch is
// committed or given up), so a batch is decoded in place, never copied.
class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Waits up to `timeout` (0: not at all) for the next message.
  virtual PolledMessage poll(std::chrono::milliseconds timeout) = 0;
  // Frees every message polled so far.
  virtual void release() = 0;
  // Any thread: ends the current poll() (or the next, if none is waiting) early, as Empty,
  // so a stop does not wait out an idle applier's long wait.
  virtual void wake() = 0;
};

}  // namespace leafsync
