#include "OutboxRelay.h"

#include <chrono>

#include "leafsync/EventCodec.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

OutboxRelay::OutboxRelay(SourceOpener open_source, std::unique_ptr<EventPublisher> publisher,
                         std::array<std::string, 3> topics, int batch_size, int poll_ms,
                         ProducerMetrics& metrics)
    : open_source_(std::move(open_source)),
      publisher_(std::move(publisher)),
      topics_(std::move(topics)),
      batch_size_(static_cast<std::size_t>(batch_size)),
      poll_ms_(poll_ms),
      metrics_(metrics) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() { thread_ = std::thread([this] { run(); }); }

void OutboxRelay::notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_wake_ = true;
  }
  wake_.notify_one();
}

void OutboxRelay::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  wake_.notify_one();
  thread_.join();
}

SourceStore* OutboxRelay::source() {
  if (store_) return store_.get();
  try {
    store_ = open_source_();
  } catch (const StoreError& e) {
    logEvent(LogLevel::Error, "outbox_source_unavailable", {{"error", e.what()}});
  }
  return store_.get();
}

std::size_t OutboxRelay::publishOnce() {
  if (!source()) return 0;
  std::vector<OutboxEntry> batch;
  try {
    batch = store_->pendingEvents(batch_size_);
    metrics_.outbox_depth.Set(static_cast<double>(store_->pendingCount()));
  } catch (const StoreError& e) {
    logEvent(LogLevel::Error, "outbox_read_failed", {{"error", e.what()}});
    return 0;
  }
  if (batch.empty() || in_flight_) {
    publisher_->serveEvents();
    return 0;
  }
  std::size_t bytes = 0;
  for (const OutboxEntry& e : batch) {
    const std::string& topic = topics_[plantIndex(e.plant)];
    if (e.image_id == 0) {
      publisher_->sendToAllPartitions(topic, kSnapshotMarkerKey, e.value);
    } else {
      publisher_->send(topic, EventCodec::encodeKey(e.image_id), e.value);
    }
    bytes += e.value.size();
  }
  // However long the broker is away, the batch is on its way until librdkafka gives it up:
  // wait for it (a stop aside) rather than queue it again.
  auto sent = std::chrono::steady_clock::now();
  auto next_report = sent + std::chrono::seconds(10);
  FlushResult result;
  while ((result = publisher_->flush(std::chrono::seconds(1))) == FlushResult::Pending) {
    if (stop_) {
      // Still in the outbox: a restart sends it again. Nothing more goes out meanwhile.
      in_flight_ = true;
      logEvent(LogLevel::Warn, "outbox_publish_interrupted", {{"events", batch.size()}});
      return 0;
    }
    try {
      metrics_.outbox_depth.Set(static_cast<double>(store_->pendingCount()));  // it grows meanwhile
    } catch (const StoreError&) {
      // Only the gauge goes stale; the wait goes on.
    }
    if (std::chrono::steady_clock::now() >= next_report) {
      next_report += std::chrono::seconds(10);
      auto waited = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - sent);
      logEvent(LogLevel::Warn, "outbox_publish_waiting", {{"events", batch.size()}, {"waited_s", waited.count()}});
    }
  }
  if (result == FlushResult::Failed) {
    metrics_.publish_failures.Increment();
    logEvent(LogLevel::Warn, "outbox_publish_retry", {{"events", batch.size()}});
    return 0;
  }
  try {
    store_->markPublished(batch.back().seq);
  } catch (const StoreError& e) {
    // Published but still in the outbox: sent again next pass, absorbed by the version rule.
    logEvent(LogLevel::Error, "outbox_mark_failed", {{"error", e.what()}});
    return 0;
  }
  std::int64_t acked_ms = nowMillis();
  for (const OutboxEntry& e : batch) {
    metrics_.publish_latency.Observe(static_cast<double>(std::max<std::int64_t>(0, acked_ms - e.created_ms)) / 1000.0);
  }
  metrics_.events_published.Increment(static_cast<double>(batch.size()));
  metrics_.bytes_published.Increment(static_cast<double>(bytes));
  return batch.size();
}

void OutboxRelay::run() {
  logEvent(LogLevel::Info, "outbox_relay_started");
  while (!stop_) {
    if (publishOnce() >= batch_size_) continue;  // more may be waiting
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(poll_ms_), [this] { return pending_wake_ || stop_.load(); });
    pending_wake_ = false;
  }
  // Drain what is committed, so a clean stop leaves an empty outbox when the broker is up.
  for (int pass = 0; pass < 100 && publishOnce() > 0; ++pass) {
  }
  logEvent(LogLevel::Info, "outbox_relay_stopped");
}

}  // namespace leafsync
