#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "SyncStatus.h"

namespace leafsync {

// Which caught-up partitions the fetcher leaves out while others catch up.
//
// librdkafka 2.0.2 keeps one fetch in flight per broker. A partition whose prefetch queue is
// full is left out of the next fetch; when every partition left in it is caught up, the broker
// parks that fetch for up to fetch.wait.max.ms, and the partition behind waits for it to come
// back however fast its applier empties its queue. Under a memory budget (small queues) a
// catch-up then ran at 0.60 (1 KiB events) and 0.14 (20 KiB) of its unbounded rate with a
// 5000 ms wait, 0.89 and 0.42 with 500 — so a long wait, the idle consumer's cheapest setting
// (issue 16: a fetch every 5 s instead of twice a second), cost the catch-up.
//
// So while some partition catches up — it has not reached where the broker's end was at the
// previous refresh, and it is not stalled — the caught-up ones are paused: every fetch
// then carries only partitions with data, and the broker answers it at once. A paused
// partition is resumed as soon as a refresh (ListOffsets, twice a second while anything is
// behind) shows it has events again, and all are resumed once nothing is catching up: during
// a catch-up a caught-up partition's new events wait up to one refresh. A stalled partition
// (its applier waiting out a database, stall_after_s) makes no one pause: the others keep
// their milliseconds while it waits. Nor does one that is only behind by what arrived since the last
// refresh (events in flight at 1,000 a second): in steady state nothing is ever paused.
class FetchFocus {
 public:
  using Key = std::pair<std::string, std::int32_t>;  // topic, partition

  // `stall_after_ms`: a partition behind whose committed offset has not moved for this long
  // is stalled (PartitionStatus::stalled) and makes no one pause. Not less: a partition the
  // parked fetches hold back moves only once per fetch.wait.max.ms.
  explicit FetchFocus(std::int64_t stall_after_ms) : stall_after_ms_(stall_after_ms) {}

  struct Change {
    std::vector<Key> pause;
    std::vector<Key> resume;
  };

  // What to pause and resume given the partitions' state at a refresh; the result is taken
  // as done (paused() follows it).
  Change decide(const std::vector<PartitionStatus>& partitions, std::int64_t now_ms);
  // Partitions just assigned, with the ends the broker gave for them just now: the next
  // decide() takes one that starts behind its end as catching up at once (otherwise a
  // backlog is told from events in flight only at the second refresh, and librdkafka's first
  // fetch, sent within milliseconds of the assignment, carries the caught-up partitions and is
  // parked for fetch.wait.max.ms while the one behind waits).
  void assigned(const std::vector<PartitionStatus>& partitions);
  // A revoked partition: forgotten (the caller resumes it if it was paused).
  bool forget(const Key& partition);
  // librdkafka refused a change decide() asked for: the partition is as it was, and a resume
  // is asked again at the next decide().
  void pauseFailed(const Key& partition) { paused_.erase(partition); }
  void resumeFailed(const Key& partition) { paused_.insert(partition); }
  const std::set<Key>& paused() const { return paused_; }
  // The partitions the last decide() found catching up (the others were paused for them).
  const std::vector<Key>& catchingUp() const { return catching_up_; }

 private:
  const std::int64_t stall_after_ms_;
  std::set<Key> paused_;
  std::vector<Key> catching_up_;
  std::map<Key, std::int64_t> previous_high_watermark_;  // at the last decide()
};

}  // namespace leafsync
