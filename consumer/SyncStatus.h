#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace leafsync {

struct PartitionStatus {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = -1;     // next offset to apply; -1 before the first batch
  std::int64_t high_watermark = -1;  // -1 until the broker told us
  std::int64_t last_applied_ms = 0;
  std::int64_t last_event_ts_ms = 0;  // source time of the newest event applied
  std::int64_t fetch_position = -1;   // where the consumer reads, before anything is applied
  // An empty copy that started at the end of the topic has none of the older rows until a
  // snapshot (op r rows, then an end marker on every partition) has gone through.
  bool awaiting_snapshot = false;

  std::int64_t lag() const {
    std::int64_t at = next_offset >= 0 ? next_offset : fetch_position;
    return at >= 0 && high_watermark >= 0 ? std::max<std::int64_t>(0, high_watermark - at) : -1;
  }
};

// What the consumer threads report for /sync-status and readiness. Thread-safe.
class SyncStatus {
 public:
  void topicJoined(const std::string& topic);
  void assigned(const std::string& topic, std::int32_t partition, std::int64_t next_offset,
                bool awaiting_snapshot);
  void observed(const std::string& topic, std::int32_t partition, std::int64_t fetch_position,
                std::int64_t high_watermark);
  void snapshotEnded(const std::string& topic, std::int32_t partition);
  void revoked(const std::string& topic, std::int32_t partition);
  void applied(const std::string& topic, std::int32_t partition, std::int64_t next_offset,
               std::int64_t high_watermark, std::int64_t last_event_ts_ms);

  std::vector<PartitionStatus> partitions() const;
  bool joined(const std::string& topic) const;
  // Why the copy should not take reads yet: a topic without assignment, a partition waiting
  // for a snapshot, or one more than `max_lag` events behind. Empty when ready.
  std::vector<std::string> notReadyReasons(const std::vector<std::string>& topics, std::int64_t max_lag) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, bool> joined_;
  std::map<std::pair<std::string, std::int32_t>, PartitionStatus> partitions_;
};

}  // namespace leafsync
