#include "PartitionApplier.h"

#include <algorithm>

#include "leafsync/Log.h"

namespace leafsync {

using Clock = std::chrono::steady_clock;

PartitionApplier::PartitionApplier(const PartitionApplierContext& context, std::int32_t partition,
                                   std::unique_ptr<RdKafka::Queue> queue)
    : context_(context),
      partition_(partition),
      queue_(std::move(queue)),
      applier_(context.topic, context.dead_letters, context.metrics),
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
}

void PartitionApplier::join() {
  if (thread_.joinable()) thread_.join();
}

void PartitionApplier::run() {
  const auto batch_size = static_cast<std::size_t>(context_.config.batch_size);
  const auto linger = std::chrono::milliseconds(context_.config.linger_ms);
  std::vector<std::unique_ptr<RdKafka::Message>> batch;
  batch.reserve(batch_size);
  Clock::time_point deadline{};
  while (!stop_) {
    int timeout_ms = 100;
    if (!batch.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
    }
    std::unique_ptr<RdKafka::Message> message(queue_->consume(timeout_ms));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (batch.empty()) deadline = Clock::now() + linger;
        batch.push_back(std::move(message));
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        logEvent(LogLevel::Warn, "consume_error",
                 {{"topic", context_.topic.name}, {"partition", partition_},
                  {"error", message->errstr()}});
        break;
    }
    if (!batch.empty() && (batch.size() >= batch_size || Clock::now() >= deadline)) {
      if (!apply(batch)) break;
      batch.clear();
    }
  }
  if (!batch.empty() && apply(batch)) batch.clear();
  if (!batch.empty()) {
    logEvent(LogLevel::Warn, "batch_abandoned",
             {{"topic", context_.topic.name}, {"partition", partition_},
              {"messages", batch.size()}, {"resume_at", batch.front()->offset()}});
  }
  store_.reset();  // back to the pool, for the partition's next applier
}

Store& PartitionApplier::connection() {
  if (!store_) store_.emplace(context_.copy.acquire());
  return **store_;
}

bool PartitionApplier::apply(const std::vector<std::unique_ptr<RdKafka::Message>>& messages) {
  const std::string& topic = context_.topic.name;
  std::vector<InboundMessage> batch;
  batch.reserve(messages.size());
  for (const auto& m : messages) {
    InboundMessage in;
    in.topic = topic;
    in.partition = m->partition();
    in.offset = m->offset();
    if (m->key_pointer()) in.key = std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len());
    in.has_value = m->payload() != nullptr;
    if (in.has_value) in.value = std::string_view(static_cast<const char*>(m->payload()), m->len());
    in.timestamp_ms = m->timestamp().timestamp;
    batch.push_back(in);
  }

  PreparedBatch prepared;
  for (int attempt = 0;; ++attempt) {
    try {
      prepared = applier_.prepare(batch);
      break;
    } catch (const DeadLetterError& e) {
      logEvent(LogLevel::Error, "dead_letter_retry",
               {{"topic", topic}, {"partition", partition_}, {"attempt", attempt},
                {"error", e.what()}});
      if (!backoff(attempt)) return false;
    }
  }
  ApplyCounts counts;
  for (int attempt = 0;; ++attempt) {
    try {
      counts = applier_.commit(connection(), prepared);
      break;
    } catch (const StoreError& e) {
      if (!store_) context_.metrics.db_errors.Increment();  // could not even connect
      logEvent(LogLevel::Error, "apply_failed",
               {{"topic", topic}, {"partition", partition_}, {"attempt", attempt},
                {"error", e.what()}});
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
            {"dead_lettered", prepared.dead_lettered}});
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
