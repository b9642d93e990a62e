#include "SyncStatus.h"

#include "leafsync/Timestamp.h"

namespace leafsync {

void SyncStatus::topicJoined(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mutex_);
  joined_[topic] = true;
}

void SyncStatus::assigned(const std::string& topic, std::int32_t partition,
                          std::int64_t next_offset, bool awaiting_snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  PartitionStatus& status = partitions_[{topic, partition}];
  status = PartitionStatus{};
  status.topic = topic;
  status.partition = partition;
  status.next_offset = next_offset;
  status.awaiting_snapshot = awaiting_snapshot;
}

void SyncStatus::observed(const std::string& topic, std::int32_t partition, std::int64_t fetch_position,
                          std::int64_t high_watermark) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end()) return;
  if (fetch_position >= 0) it->second.fetch_position = fetch_position;
  if (high_watermark >= 0) it->second.high_watermark = high_watermark;
}

void SyncStatus::snapshotEnded(const std::string& topic, std::int32_t partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it != partitions_.end()) it->second.awaiting_snapshot = false;
}

std::vector<std::string> SyncStatus::notReadyReasons(const std::vector<std::string>& topics,
                                                     std::int64_t max_lag) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> reasons;
  for (const std::string& topic : topics) {
    auto joined = joined_.find(topic);
    if (joined == joined_.end() || !joined->second) reasons.push_back("topic '" + topic + "' has no assignment yet");
  }
  for (const auto& [key, p] : partitions_) {
    std::string name = p.topic + "/" + std::to_string(p.partition);
    std::int64_t lag = p.lag();
    if (p.awaiting_snapshot) {
      reasons.push_back(name + ": rebuilding from empty, waiting for a snapshot (leafsync-producer snapshot)");
    } else if (lag < 0) {
      reasons.push_back(name + ": position not known yet");
    } else if (lag > max_lag) {
      reasons.push_back(name + ": " + std::to_string(lag) + " events behind (ready at " + std::to_string(max_lag) + ")");
    }
  }
  return reasons;
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
