#include "FetchFocus.h"

namespace leafsync {

FetchFocus::Change FetchFocus::decide(const std::vector<PartitionStatus>& partitions, std::int64_t now_ms) {
  catching_up_.clear();
  std::map<Key, std::int64_t> high_watermarks;
  for (const PartitionStatus& p : partitions) {
    Key key{p.topic, p.partition};
    high_watermarks[key] = p.high_watermark;
    auto previous = previous_high_watermark_.find(key);
    bool backlog = previous != previous_high_watermark_.end() && p.next_offset >= 0 && p.next_offset < previous->second;
    if (backlog && !p.stalled(now_ms, stall_after_ms_)) catching_up_.push_back(key);
  }
  previous_high_watermark_ = std::move(high_watermarks);
  Change change;
  for (const PartitionStatus& p : partitions) {
    Key key{p.topic, p.partition};
    bool paused = paused_.count(key) > 0;
    // Only a partition known to hold nothing unapplied is paused; one with events (or whose
    // position is not known) is fetched.
    bool want_paused = !catching_up_.empty() && p.lag() == 0;
    if (want_paused && !paused) {
      change.pause.push_back(key);
      paused_.insert(key);
    } else if (!want_paused && paused) {
      change.resume.push_back(key);
      paused_.erase(key);
    }
  }
  // One no longer reported (revoked without forget()): nothing to resume, only to forget.
  for (auto it = paused_.begin(); it != paused_.end();) {
    it = previous_high_watermark_.count(*it) ? std::next(it) : paused_.erase(it);
  }
  return change;
}

void FetchFocus::assigned(const std::vector<PartitionStatus>& partitions) {
  for (const PartitionStatus& p : partitions) {
    // A partition seen at an earlier decide() keeps that figure: only new ones are seeded.
    if (p.high_watermark >= 0) previous_high_watermark_.emplace(Key{p.topic, p.partition}, p.high_watermark);
  }
}

bool FetchFocus::forget(const Key& partition) {
  previous_high_watermark_.erase(partition);
  return paused_.erase(partition) > 0;
}

}  // namespace leafsync
