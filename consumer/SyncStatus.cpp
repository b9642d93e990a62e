#include "SyncStatus.h"

#include <algorithm>

#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

std::string name(const PartitionStatus& p) { return p.topic + "/" + std::to_string(p.partition); }

}  // namespace

std::string describeStall(const PartitionStatus& p, std::int64_t now_ms) {
  std::string text = name(p) + ": stalled for " + std::to_string((now_ms - p.progress_ms) / 1000) + " s ";
  text += p.next_offset < 0 ? std::string("before the copy's offset could be read")
                            : "at offset " + std::to_string(p.next_offset) + ", " + std::to_string(p.lag()) +
                                  " events behind";
  if (!p.last_error.empty()) text += "; last error: " + p.last_error;
  return text;
}

void SyncStatus::watchFetcher(FetchedHighWatermark fetched) {
  std::lock_guard<std::mutex> lock(mutex_);
  fetched_ = std::move(fetched);
}

void SyncStatus::raiseToFetched() const {
  // Only a figure the broker gave since the assignment is raised: right after a broker crash
  // the fetcher's cache still holds the figure from before, and taken for an unknown one it
  // made a copy thousands behind look caught up. Between two refreshes (up to kQuietRefresh
  // when calm) a burst the copy cannot commit showed only here: FailLoudlyTest.
  std::lock_guard<std::mutex> lock(mutex_);
  if (!fetched_) return;
  for (auto& [key, p] : partitions_) {
    if (p.high_watermark < 0) continue;
    std::int64_t fetched = fetched_(key.first, key.second);
    if (fetched > p.high_watermark) p.high_watermark = fetched;
  }
}

void SyncStatus::topicJoined(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mutex_);
  TopicState& state = topics_[topic];
  state.joined = true;
  if (state.held > 0) {
    state.lost_all = false;
    state.empty_share_since_ms = -1;
  } else if (state.lost_all && state.empty_share_since_ms < 0) {
    state.empty_share_since_ms = nowMillis();
  }
}

void SyncStatus::assigned(const std::string& topic, std::int32_t partition,
                          std::int64_t next_offset, bool awaiting_snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, added] = partitions_.try_emplace({topic, partition});
  if (added) ++topics_[topic].held;
  PartitionStatus& status = it->second;
  status = PartitionStatus{};
  status.topic = topic;
  status.partition = partition;
  status.next_offset = next_offset;
  status.awaiting_snapshot = awaiting_snapshot;
  status.progress_ms = nowMillis();
}

void SyncStatus::observed(const std::string& topic, std::int32_t partition, std::int64_t high_watermark) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end() || high_watermark < 0) return;
  PartitionStatus& p = it->second;
  // Caught up counts as progress: a stall is time spent behind without moving.
  if (p.lag() == 0) p.progress_ms = nowMillis();
  p.high_watermark = std::max(p.high_watermark, high_watermark);
}

void SyncStatus::snapshotEnded(const std::string& topic, std::int32_t partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it != partitions_.end()) it->second.awaiting_snapshot = false;
}

void SyncStatus::revoked(const std::string& topic, std::int32_t partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (partitions_.erase({topic, partition}) == 0) return;
  reported_stalled_.erase({topic, partition});
  TopicState& state = topics_[topic];
  if (--state.held == 0) {
    state.lost_all = true;
    state.empty_share_since_ms = -1;
  }
}

void SyncStatus::applied(const std::string& topic, std::int32_t partition,
                         std::int64_t next_offset, std::int64_t high_watermark,
                         std::int64_t last_event_ts_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++commits_;
  committed_.notify_all();
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end()) return;  // revoked meanwhile
  PartitionStatus& status = it->second;
  std::int64_t now = nowMillis();
  if (next_offset != status.next_offset) status.progress_ms = now;
  status.next_offset = next_offset;
  // A partition's high watermark only grows, and the applier's figure (librdkafka's cached one,
  // stale while its consumer rejoins after a broker crash) only raises what the broker said
  // since the assignment (ListOffsets, observed()): lowering it, or standing in for it, made
  // a copy thousands behind look caught up (seen, once batches committed as soon as their
  // queue emptied).
  if (status.high_watermark >= 0) status.high_watermark = std::max(status.high_watermark, high_watermark);
  status.last_applied_ms = now;
  if (last_event_ts_ms > status.last_event_ts_ms) status.last_event_ts_ms = last_event_ts_ms;
}

void SyncStatus::failed(const std::string& topic, std::int32_t partition, const std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end()) return;
  it->second.last_error = error;
  it->second.last_error_ms = nowMillis();
}

void SyncStatus::fetchPaused(const std::string& topic, std::int32_t partition, bool paused) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = partitions_.find({topic, partition});
  if (it != partitions_.end()) it->second.fetch_paused = paused;
}

std::vector<std::string> SyncStatus::notReadyReasons(const std::vector<std::string>& topics,
                                                     std::int64_t max_lag) const {
  raiseToFetched();
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> reasons;
  std::int64_t now = nowMillis();
  for (const std::string& topic : topics) {
    auto it = topics_.find(topic);
    if (it == topics_.end() || !it->second.joined) {
      reasons.push_back("topic '" + topic + "' has no assignment yet");
    } else if (const TopicState& state = it->second;
               state.lost_all && (state.empty_share_since_ms < 0 || now - state.empty_share_since_ms < rejoin_grace_ms_)) {
      reasons.push_back("topic '" + topic + "' holds no partitions since they were revoked (rejoining the group)");
    }
  }
  for (const auto& [key, p] : partitions_) {
    std::int64_t lag = p.lag();
    if (p.stalled(now, stall_after_ms_)) {
      reasons.push_back(describeStall(p, now));
    } else if (p.next_offset < 0) {
      reasons.push_back(name(p) + ": the copy's offset could not be read yet" +
                        (p.last_error.empty() ? "" : " (" + p.last_error + ")"));
    } else if (p.awaiting_snapshot) {
      reasons.push_back(name(p) + ": rebuilding from empty, waiting for a snapshot (leafsync-producer snapshot)");
    } else if (lag < 0) {
      reasons.push_back(name(p) + ": position not known yet");
    } else if (lag > max_lag) {
      reasons.push_back(name(p) + ": " + std::to_string(lag) + " events behind (ready at " + std::to_string(max_lag) + ")");
    }
  }
  return reasons;
}

std::vector<StallChange> SyncStatus::stallChanges() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StallChange> changes;
  std::int64_t now = nowMillis();
  for (const auto& [key, p] : partitions_) {
    bool stalled = p.stalled(now, stall_after_ms_);
    bool& reported = reported_stalled_[key];
    if (stalled != reported) {
      reported = stalled;
      changes.push_back({p, stalled});
    }
  }
  return changes;
}

std::uint64_t SyncStatus::commits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return commits_;
}

void SyncStatus::waitForCommit(std::uint64_t seen, std::chrono::steady_clock::time_point until) const {
  std::unique_lock<std::mutex> lock(mutex_);
  committed_.wait_until(lock, until, [&] { return commits_ > seen; });
}

std::vector<PartitionStatus> SyncStatus::partitions() const {
  raiseToFetched();
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PartitionStatus> result;
  for (const auto& [key, status] : partitions_) result.push_back(status);
  return result;
}

bool SyncStatus::joined(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = topics_.find(topic);
  return it != topics_.end() && it->second.joined;
}

}  // namespace leafsync
