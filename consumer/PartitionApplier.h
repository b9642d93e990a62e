#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "BatchApplier.h"
#include "MessageSource.h"
#include "SyncStatus.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/Store.h"

namespace leafsync {

// How long to wait before retry `attempt` of a failed database or dead-letter operation:
// 100 ms doubling up to 5 s.
std::chrono::milliseconds retryDelay(int attempt);

// Where a partition starts: the copy's stored next offset, or — for a partition the copy
// never saw — what start_when_empty chose (then `from_empty`).
struct StartOffset {
  std::int64_t offset = 0;
  bool from_empty = false;
};

// Where a partition starts is not known yet (the broker did not tell its watermarks, or a
// seek failed): retried like a database failure.
class StartUnknown : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ends the process (orderly, non-zero): for what cannot be retried. Thread-safe.
using FatalHandler = std::function<void(const std::string& reason)>;

// What every partition applier of one topic shares. Everything here outlives the appliers.
struct PartitionApplierContext {
  const ConsumerConfig& config;
  const TopicConfig& topic;
  ConnectionPool<Store>& copy;  // connections to the copy; an applier holds one while it runs
  DeadLetterSink& dead_letters;  // thread-safe
  ConsumerMetrics& metrics;
  SyncStatus& status;
  // Called on the applier's thread once a batch is committed to the copy: the partition's
  // next offset (to mirror to Kafka and to report lag).
  std::function<void(const PartitionOffset&, std::int64_t newest_event_ts_ms)> committed;
  // Reads (or, for an empty copy, decides and stores) where a partition starts; throws
  // StoreError when the copy cannot be read. Then moves the fetch there.
  std::function<StartOffset(std::int32_t partition, Store& store)> resolve_start;
  std::function<void(std::int32_t partition, std::int64_t offset)> seek;
  // The partition's high watermark as the last fetch response told it (no request; -1 when
  // not known yet): above the applier's next offset, more of the partition is on its way.
  std::function<std::int64_t(std::int32_t partition)> high_watermark;
  FatalHandler fatal;
};

// Applies one partition's messages in Kafka order on a thread of its own, with its own
// connection to the copy, so the partitions of a topic are applied in parallel while each
// keeps its order. It reads the partition from a MessageSource (in the service, the
// partition's own librdkafka queue: KafkaPartitionSource). Batching is natural: the applier takes what its queue holds (up to
// apply.batch_size) and commits as soon as the queue is empty, so at low rates each event goes
// out at once and under load batches grow by themselves (what arrives during a commit is the
// next batch). It lingers (up to apply.linger_ms from the batch's first message) only while
// more of the partition is known to be on its way: the partition's high watermark lies above
// what the applier holds. Each batch's rows and the partition's next offset commit in one
// transaction.
//
// A database or dead-letter failure is retried with backoff for as long as it lasts, each
// attempt counted and its error reported to SyncStatus (so a partition that does not move
// turns stalled). requestStop() makes it apply the batch in hand and end; if the database
// fails meanwhile it gives up instead: nothing of that batch is committed, so whoever reads
// the partition next starts from the copy's offset and loses nothing.
//
// Without a `start` (the copy could not be read during the rebalance, which must not block),
// it first reads the copy's offset itself, retrying like a batch, then seeks there. Either
// way it never applies a message below the offset it resumed at.
class PartitionApplier {
 public:
  PartitionApplier(const PartitionApplierContext& context, std::int32_t partition,
                   std::unique_ptr<MessageSource> source, std::optional<std::int64_t> start);
  ~PartitionApplier();  // requestStop() + join()
  PartitionApplier(const PartitionApplier&) = delete;
  PartitionApplier& operator=(const PartitionApplier&) = delete;

  // The longest wait for a partition's first message (a safety net: a stop wakes it).
  static constexpr std::chrono::milliseconds kIdleWait{2000};

  std::int32_t partition() const { return partition_; }
  void requestStop();  // any thread
  void join();

 private:
  void run();
  void consumeLoop();
  // false: a stop was requested before the copy's offset could be read.
  bool resolveStart();
  // false: gave up because a stop was requested while the batch could not be committed.
  bool apply(const std::vector<InboundMessage>& batch);
  void failed(const char* event, int attempt, const std::string& error);
  Store& connection();  // throws StoreError when the database cannot be reached
  // Sleeps before retry `attempt`; false when a stop was requested (no retry wanted).
  bool backoff(int attempt);

  const PartitionApplierContext& context_;
  const std::int32_t partition_;
  std::unique_ptr<MessageSource> source_;
  BatchApplier applier_;
  std::int64_t next_offset_ = -1;  // the next offset to apply; below it is already applied
  std::optional<ConnectionPool<Store>::Lease> store_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  std::atomic<bool> stop_{false};  // set under mutex_, so a backoff cannot miss it
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace leafsync
