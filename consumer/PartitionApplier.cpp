#include "PartitionApplier.h"

#include <pthread.h>

#include <algorithm>

#include "leafsync/Log.h"

namespace leafsync {

using Clock = std::chrono::steady_clock;

PartitionApplier::PartitionApplier(const PartitionApplierContext& context, std::int32_t partition,
                                   std::unique_ptr<MessageSource> source, std::optional<std::int64_t> start)
    : context_(context),
      partition_(partition),
      source_(std::move(source)),
      applier_(context.topic, context.dead_letters, context.metrics),
      next_offset_(start.value_or(-1)),
      thread_([this] { run(); }) {}

PartitionApplier::~PartitionApplier() {
  requestStop();
  join();
}

void PartitionApplier::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_requested_.notify_all();
  source_->wake();  // an idle applier's wait for its first message is long
}

void PartitionApplier::join() {
  if (thread_.joinable()) thread_.join();
}

void PartitionApplier::run() {
  pthread_setname_np(pthread_self(), "ls:apply");  // per-thread CPU in /proc and perf
  // An exception escaping here would end the process without an orderly stop; one that
  // reaches this point is a broken invariant, so the process stops on purpose instead.
  try {
    if (next_offset_ >= 0 || resolveStart()) consumeLoop();
  } catch (const std::exception& e) {
    context_.fatal("applier of " + context_.topic.name + "/" + std::to_string(partition_) + " failed: " + e.what());
  }
  store_.reset();  // back to the pool, for the partition's next applier
}

bool PartitionApplier::resolveStart() {
  for (int attempt = 0;; ++attempt) {
    try {
      StartOffset start = context_.resolve_start(partition_, connection());
      context_.seek(partition_, start.offset);
      next_offset_ = start.offset;
      context_.status.assigned(context_.topic.name, partition_, start.offset,
                               start.from_empty && context_.config.start_from_latest_when_empty);
      logEvent(LogLevel::Info, "partition_offset_read",
               {{"topic", context_.topic.name}, {"partition", partition_}, {"offset", start.offset},
                {"attempts", attempt + 1}});
      return true;
    } catch (const StoreError& e) {
      context_.metrics.db_errors.Increment();
      context_.metrics.db_retries.Increment();
      failed("offset_read_failed", attempt, e.what());
    } catch (const StartUnknown& e) {
      failed("start_offset_unknown", attempt, e.what());
    }
    if (!backoff(attempt)) return false;
  }
}

void PartitionApplier::failed(const char* event, int attempt, const std::string& error) {
  logEvent(LogLevel::Error, event,
           {{"topic", context_.topic.name}, {"partition", partition_}, {"attempt", attempt},
            {"error", error}});
  context_.status.failed(context_.topic.name, partition_, error);
}

void PartitionApplier::consumeLoop() {
  const auto batch_size = static_cast<std::size_t>(context_.config.batch_size);
  const auto linger = std::chrono::milliseconds(context_.config.linger_ms);
  // The memory budget's share of a batch in hand (0: none): its messages' bytes.
  const std::size_t max_bytes = context_.config.batch_max_bytes;
  std::size_t batch_bytes = 0;
  std::vector<InboundMessage> batch;  // views into what source_ holds until release()
  batch.reserve(batch_size);
  Clock::time_point deadline{};
  bool lingering = false;  // the queue was empty but more is on its way: wait for it
  while (!stop_) {
    // Without a batch: wait for its first message; a stop wakes the wait (requestStop), so it
    // can be long: an idle applier costs a wake-up every kIdleWait, not ten a second. With
    // one: take what is queued without waiting, or wait out the linger.
    auto timeout = kIdleWait;
    if (!batch.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout = lingering ? std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100))
                         : std::chrono::milliseconds(0);
    }
    PolledMessage polled = source_->poll(timeout);
    bool queue_empty = false;
    switch (polled.kind) {
      case PolledMessage::Kind::Message: {
        const InboundMessage& message = polled.message;
        // Already applied: fetched before a seek took effect, or replayed.
        if (message.offset < next_offset_) {
          if (batch.empty()) source_->release();
          break;
        }
        next_offset_ = message.offset + 1;
        if (batch.empty()) deadline = Clock::now() + linger;
        batch_bytes += message.value.size() + message.key.size();
        batch.push_back(message);
        lingering = false;
        break;
      }
      case PolledMessage::Kind::Empty:
        queue_empty = true;
        break;
      case PolledMessage::Kind::Fatal:
        context_.fatal("Kafka fatal error on " + context_.topic.name + "/" + std::to_string(partition_) +
                       ": " + polled.error);
        break;
      case PolledMessage::Kind::Error:
        logEvent(LogLevel::Warn, "consume_error",
                 {{"topic", context_.topic.name}, {"partition", partition_}, {"error", polled.error}});
        break;
    }
    if (batch.empty()) continue;
    bool commit = batch.size() >= batch_size || (max_bytes > 0 && batch_bytes >= max_bytes);
    if (!commit && queue_empty) {
      // Nothing more queued: commit now, unless the broker holds more of this partition than
      // has been fetched (a fetch response cut short by its size limits) and the linger allows.
      lingering = Clock::now() < deadline && context_.high_watermark(partition_) > next_offset_;
      commit = !lingering;
    }
    if (commit) {
      if (!apply(batch)) break;
      batch.clear();
      source_->release();
      batch_bytes = 0;
      lingering = false;
    }
  }
  if (!batch.empty() && apply(batch)) batch.clear();
  if (!batch.empty()) {
    logEvent(LogLevel::Warn, "batch_abandoned",
             {{"topic", context_.topic.name}, {"partition", partition_},
              {"messages", batch.size()}, {"resume_at", batch.front().offset}});
  }
  source_->release();
}

Store& PartitionApplier::connection() {
  if (!store_) store_.emplace(context_.copy.acquire());
  return **store_;
}

bool PartitionApplier::apply(const std::vector<InboundMessage>& batch) {
  const std::string& topic = context_.topic.name;
  PreparedBatch prepared = applier_.prepare(batch);
  // Letters the topic acknowledged stay delivered across attempts: never sent twice.
  for (int attempt = 0;; ++attempt) {
    std::string error = applier_.deliverDeadLetters(prepared);
    if (error.empty()) break;
    failed("dead_letter_retry", attempt, error);
    if (!backoff(attempt)) return false;
  }
  ApplyCounts counts;
  for (int attempt = 0;; ++attempt) {
    try {
      counts = applier_.commit(connection(), prepared);
      break;
    } catch (const StoreError& e) {
      if (!store_) context_.metrics.db_errors.Increment();  // could not even connect
      failed("apply_failed", attempt, e.what());
      context_.metrics.db_retries.Increment();
      if (!backoff(attempt)) return false;
    }
  }
  for (std::int32_t partition : prepared.snapshot_ends) {
    context_.status.snapshotEnded(topic, partition);
    logEvent(LogLevel::Info, "snapshot_end_applied", {{"topic", topic}, {"partition", partition}});
  }
  std::int64_t newest_ts = 0;
  for (const ChangeEvent& e : prepared.events) newest_ts = std::max(newest_ts, e.source_ts_ms);
  for (const PartitionOffset& offset : prepared.offsets) context_.committed(offset, newest_ts);
  logEvent(LogLevel::Debug, "batch_applied",
           {{"topic", topic}, {"partition", partition_}, {"messages", batch.size()},
            {"applied", counts.appliedTotal()}, {"stale", counts.stale},
            {"dead_lettered", prepared.dead_letters.size()}, {"group_batches", counts.group_batches}});
  return true;
}

std::chrono::milliseconds retryDelay(int attempt) {
  return std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6)));
}

bool PartitionApplier::backoff(int attempt) {
  std::unique_lock<std::mutex> lock(mutex_);
  stop_requested_.wait_for(lock, retryDelay(attempt), [&] { return stop_.load(); });
  return !stop_;
}

}  // namespace leafsync
