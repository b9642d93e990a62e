#include "SyncStatus.h"

#include "leafsync/Timestamp.h"

namespace leafsync {

void SyncStatus::topicJoined(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mutex_);
  joined_[topic] = true;
}

void SyncStatus::assigned(const std::string& topic, std::int32_t partition,
                          std::int64_t next_offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  PartitionStatus& status = partitions_[{topic, partition}];
  status.topic = topic;
  status.partition = partition;
  status.next_offset = next_offset;
}

void SyncStatus::revoked(const std::string& topic, std::int32_t partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  partitions_.erase({topic, partition});
}

void SyncStatus::applied(const std::string& topic, std::int32_t partition,
                         std::int64_t next_offset, std::int64_t high_watermark,
                         std::int64_t last_event_ts_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  PartitionStatus& status = partitions_[{topic, partition}];
  status.topic = topic;
  status.partition = partition;
  status.next_offset = next_offset;
  if (high_watermark >= 0) status.high_watermark = high_watermark;
  status.last_applied_ms = nowMillis();
  if (last_event_ts_ms > status.last_event_ts_ms) status.last_event_ts_ms = last_event_ts_ms;
}

std::vector<PartitionStatus> SyncStatus::partitions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PartitionStatus> result;
  for (const auto& [key, status] : partitions_) result.push_back(status);
  return result;
}

bool SyncStatus::joined(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = joined_.find(topic);
  return it != joined_.end() && it->second;
}

}  // namespace leafsync
