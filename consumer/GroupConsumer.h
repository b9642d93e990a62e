#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "FetchFocus.h"
#include "KafkaDeadLetterProducer.h"
#include "PartitionApplier.h"
#include "SyncStatus.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/KafkaConfig.h"
#include "leafsync/Store.h"

struct rd_kafka_queue_s;

namespace leafsync {

// The process's one Kafka consumer in the group, subscribed to every configured topic, on a
// thread of its own that only polls: each assigned partition's messages go to the
// PartitionApplier of that partition (one thread and one connection to the copy per assigned
// partition, reading the partition's own librdkafka queue), so partitions are applied in
// parallel, each in order. One client per process rather than one per topic: one fetch long
// poll, one group member, one set of librdkafka threads and timers (docs/benchmarks.md, *The
// idle consumer*).
//
// On assignment it starts each partition at the offset stored in the copy (the copy, not
// Kafka, is the truth), read once: when the copy cannot be read then, the partition's applier
// reads it itself and seeks, so the rebalance callback never waits on the database. Before
// partitions are revoked their appliers commit what they hold. While an applier waits out a
// database outage, librdkafka stops fetching its partition once the partition's prefetch
// queue is full, and this thread goes on polling, so the group keeps this member. It also
// keeps lag, readiness and the stalled gauge current from the copy's committed offsets: it
// asks the broker for the high watermarks (ListOffsets) twice a second while anything is
// behind or was just (re)assigned, and every kQuietRefresh when every partition has been
// caught up for a while, events flowing or not (see refreshDue()); between refreshes the
// fetcher's figures count (SyncStatus::watchFetcher). requestStop() makes every applier commit what it holds, then the
// consumer closes (leaving the group at once). What the consumer cannot recover from — a
// fatal librdkafka error (a fenced static member), a failed subscribe, an authentication or
// authorization failure — goes to `fatal`, and the thread stops as if asked to.
class GroupConsumer : private RdKafka::RebalanceCb, private RdKafka::EventCb {
 public:
  // While anything moves, is behind or was just (re)assigned: the refresh every this often.
  static constexpr std::chrono::milliseconds kBusyRefresh{500};
  // Caught up and calm at the last refresh: the refresh every this often.
  static constexpr std::chrono::milliseconds kQuietRefresh{5000};
  // After an assignment, a Kafka error or a refresh that could not ask the broker: busy for
  // at least this long.
  static constexpr std::chrono::milliseconds kSettle{10000};

  // How long a refresh or an assignment waits for the broker's ListOffsets answer.
  static constexpr int kListOffsetsTimeoutMs = 2000;

  // `dead_letters` also answers the consumer's ListOffsets (off the fetch connection).
  GroupConsumer(const ConsumerConfig& config, ConnectionPool<Store>& copy, KafkaDeadLetterProducer& dead_letters,
                ConsumerMetrics& metrics, SyncStatus& status, FatalHandler fatal);
  ~GroupConsumer() override;

  void start();
  void requestStop();  // any thread
  void join();

 private:
  using Key = std::pair<std::string, std::int32_t>;  // topic, partition
  struct QueueHandle {  // librdkafka's C handle of the consumer's queue, to wake its poll
    void operator()(rd_kafka_queue_s* queue) const;
  };

  void run();
  void poll();
  void fail(const std::string& reason);
  void wakePoll();  // ends the consumer thread's current wait
  void stopAppliers(const std::vector<Key>& partitions);
  std::vector<Key> assignedPartitions() const;  // those with an applier
  void committed(const PartitionOffset& offset, std::int64_t newest_event_ts_ms);
  // Commits the copy's offsets applied since the last call to Kafka (a mirror for tools).
  void mirrorOffsets();
  // The copy's stored offset, or for a partition the copy never saw, start_when_empty's
  // choice (latest is stored at once, so it is made once). Throws StoreError when the copy
  // cannot be read, StartUnknown when the broker's watermarks are not known.
  StartOffset resolveStart(const std::string& topic, std::int32_t partition, Store& store);
  void seek(const std::string& topic, std::int32_t partition, std::int64_t offset);
  std::int64_t cachedHighWatermark(const std::string& topic, std::int32_t partition);  // -1: not known yet
  // High watermarks, lag and stalls from the copy's committed offsets. false: the broker did
  // not answer, or some partition is behind or not known: the next refresh comes soon.
  bool refreshPositions();
  // Asks the broker where `partitions` end (one ListOffsets, on the dead-letter producer's
  // connections) and records the answers in status_. false: not every one was answered.
  bool observeEnds(std::vector<RdKafka::TopicPartition*>& partitions);
  // Lag, the stalled gauges and log lines, and the fetch focus from status_ as it stands.
  // false: some partition is behind or its position is not known.
  bool publishPositions();
  // Pauses and resumes caught-up partitions as focus_ decides from `partitions`.
  void focusFetch(const std::vector<PartitionStatus>& partitions, std::int64_t now_ms);
  void setFetchPaused(const std::vector<FetchFocus::Key>& partitions, bool paused);
  // Right after an assignment: asks the broker where the new partitions end (one ListOffsets),
  // publishes their positions and focuses the fetch at once if one of them starts behind.
  void focusAssigned(const std::vector<RdKafka::TopicPartition*>& partitions);
  // Resumes those of `partitions` focus_ paused, and forgets them (a revocation).
  void resumeForgotten(const std::vector<Key>& partitions);
  // When the next refresh is due, from how the last one went (`settled`: it was answered
  // and every partition caught up).
  std::chrono::steady_clock::time_point refreshDue(bool settled);
  void unsettle();  // busy refreshes for kSettle from now
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;
  void event_cb(RdKafka::Event& event) override;  // the logger's, and unsettles on errors

  const ConsumerConfig& config_;
  ConnectionPool<Store>& copy_;
  KafkaDeadLetterProducer& dead_letters_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  FatalHandler fatal_;
  std::vector<std::string> topics_;
  // One per topic (what an applier's context names is its topic), in a map: they never move.
  std::map<std::string, std::unique_ptr<PartitionApplierContext>> contexts_;
  KafkaLogger logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<rd_kafka_queue_s, QueueHandle> consumer_queue_;
  // Only the consumer thread touches these (rebalance_cb runs on it, inside consume()).
  std::map<Key, std::unique_ptr<PartitionApplier>> appliers_;
  FetchFocus focus_{status_.stallAfterMs()};
  std::mutex mirror_mutex_;
  std::map<Key, std::int64_t> to_mirror_;  // partition → next offset, not yet mirrored
  // The consumer thread waits out a quiet refresh interval: an unsettle() wakes it.
  std::atomic<bool> quiet_{false};
  // Steady-clock milliseconds of the last assignment, Kafka error or unanswered refresh.
  std::atomic<std::int64_t> unsettled_at_ms_{0};
  bool ever_assigned_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace leafsync
