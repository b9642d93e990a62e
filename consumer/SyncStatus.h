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

  std::int64_t lag() const {
    return next_offset >= 0 && high_watermark >= 0 ? std::max<std::int64_t>(0, high_watermark - next_offset) : -1;
  }
};

// What the consumer threads report for /sync-status and readiness. Thread-safe.
class SyncStatus {
 public:
  void topicJoined(const std::string& topic);
  void assigned(const std::string& topic, std::int32_t partition, std::int64_t next_offset);
  void revoked(const std::string& topic, std::int32_t partition);
  void applied(const std::string& topic, std::int32_t partition, std::int64_t next_offset,
               std::int64_t high_watermark, std::int64_t last_event_ts_ms);

  std::vector<PartitionStatus> partitions() const;
  bool joined(const std::string& topic) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, bool> joined_;
  std::map<std::pair<std::string, std::int32_t>, PartitionStatus> partitions_;
};

}  // namespace leafsync
