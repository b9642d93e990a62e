#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace leafsync {

struct PartitionStatus {
  std::string topic;
  std::int32_t partition = 0;
  // The copy's committed next offset (where the copy resumes): from the copy at assignment,
  // then from every committed batch. -1 while the copy's offset could not be read yet.
  std::int64_t next_offset = -1;
  std::int64_t high_watermark = -1;  // -1 until the broker told us
  std::int64_t last_applied_ms = 0;
  std::int64_t last_event_ts_ms = 0;  // source time of the newest event applied
  std::int64_t progress_ms = 0;       // when next_offset last moved (or the assignment)
  // An empty copy that started at the end of the topic has none of the older rows until a
  // snapshot (op r rows, then an end marker on every partition) has gone through.
  bool awaiting_snapshot = false;
  // Left out of fetches while other partitions catch up (FetchFocus).
  bool fetch_paused = false;
  std::string last_error;  // the newest failure of this partition's applier, "" if none
  std::int64_t last_error_ms = 0;

  // Events in Kafka that the copy has not committed; -1 when not known.
  std::int64_t lag() const {
    return next_offset >= 0 && high_watermark >= 0 ? std::max<std::int64_t>(0, high_watermark - next_offset) : -1;
  }
  // Behind (or its offset unreadable), and the copy's offset has not moved for
  // `stall_after_ms`.
  bool stalled(std::int64_t now_ms, std::int64_t stall_after_ms) const {
    return (lag() > 0 || next_offset < 0) && now_ms - progress_ms >= stall_after_ms;
  }
};

// A partition that became stalled or stopped being stalled.
struct StallChange {
  PartitionStatus partition;
  bool stalled = false;
};

// What the consumer threads report for /sync-status, readiness and the stalled gauge: every
// figure is the copy's truth (committed offsets), not the fetch position. Thread-safe.
class SyncStatus {
 public:
  // A partition's high watermark as the consumer's last fetch response told it (no request;
  // -1 when not known): fresher than the broker's last ListOffsets answer while events arrive.
  using FetchedHighWatermark = std::function<std::int64_t(const std::string& topic, std::int32_t partition)>;

  // `rejoin_grace_ms`: how long a topic that lost every partition stays not ready through
  // rebalances that give it none (the group's session.timeout.ms, see notReadyReasons()).
  explicit SyncStatus(std::int64_t stall_after_ms = 30000, std::int64_t rejoin_grace_ms = 45000)
      : stall_after_ms_(stall_after_ms), rejoin_grace_ms_(rejoin_grace_ms) {}

  // Readiness, /sync-status and lag then count what the fetcher has seen arrive since the
  // last refresh; nullptr stops it (the consumer going away).
  void watchFetcher(FetchedHighWatermark fetched);

  // A rebalance handed `topic` its (possibly empty) share.
  void topicJoined(const std::string& topic);
  void assigned(const std::string& topic, std::int32_t partition, std::int64_t next_offset,
                bool awaiting_snapshot);
  void observed(const std::string& topic, std::int32_t partition, std::int64_t high_watermark);
  void snapshotEnded(const std::string& topic, std::int32_t partition);
  void revoked(const std::string& topic, std::int32_t partition);
  void applied(const std::string& topic, std::int32_t partition, std::int64_t next_offset,
               std::int64_t high_watermark, std::int64_t last_event_ts_ms);
  void failed(const std::string& topic, std::int32_t partition, const std::string& error);
  void fetchPaused(const std::string& topic, std::int32_t partition, bool paused);

  std::vector<PartitionStatus> partitions() const;
  bool joined(const std::string& topic) const;
  std::int64_t stallAfterMs() const { return stall_after_ms_; }
  // Why the copy should not take reads: a topic without assignment, or holding nothing since
  // its partitions were revoked (through rebalances that give it none, for rejoin_grace_ms:
  // after a broker restart the group still counts this process's old membership, which holds
  // every partition until its session times out, so the first rebalance hands the rejoined
  // consumer nothing — FailLoudlyTest saw it ready 14,183 events behind); a partition whose
  // offset is not known, waiting for a snapshot, more than `max_lag` events behind, or
  // stalled. Empty when ready.
  std::vector<std::string> notReadyReasons(const std::vector<std::string>& topics, std::int64_t max_lag) const;
  // Partitions whose stalled state changed since the last call (for the gauge and the log).
  std::vector<StallChange> stallChanges();

  // Batches committed so far; waitForCommit() returns once there are more than `seen`, or
  // at `until` — so a forwarded write waits for commits instead of polling the copy.
  std::uint64_t commits() const;
  void waitForCommit(std::uint64_t seen, std::chrono::steady_clock::time_point until) const;

 private:
  struct TopicState {
    bool joined = false;
    int held = 0;
    bool lost_all = false;  // had partitions, a revocation took them all, none assigned since
    std::int64_t empty_share_since_ms = -1;  // lost_all, and a rebalance since gave it none
  };
  // Raises every partition's high watermark to the fetcher's figure where that is newer.
  void raiseToFetched() const;

  const std::int64_t stall_after_ms_;
  const std::int64_t rejoin_grace_ms_;
  mutable std::mutex mutex_;
  FetchedHighWatermark fetched_;  // guarded by mutex_
  std::map<std::string, TopicState> topics_;
  mutable std::map<std::pair<std::string, std::int32_t>, PartitionStatus> partitions_;
  std::map<std::pair<std::string, std::int32_t>, bool> reported_stalled_;
  std::uint64_t commits_ = 0;
  mutable std::condition_variable committed_;
};

// "potato/1: stalled for 42 s at offset 1200, 300 events behind; last error: …"
std::string describeStall(const PartitionStatus& p, std::int64_t now_ms);

}  // namespace leafsync
