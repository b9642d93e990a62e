#include "OutboxRelay.h"

#include <algorithm>

#include "leafsync/EventCodec.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

OutboxRelay::OutboxRelay(SourceOpener open_source, std::unique_ptr<EventPublisher> publisher,
                         std::array<std::string, 3> topics, int batch_size, int poll_ms,
                         ProducerMetrics& metrics)
    : open_source_(std::move(open_source)),
      publisher_(std::move(publisher)),
      topics_(std::move(topics)),
      batch_size_(static_cast<std::size_t>(batch_size)),
      poll_ms_(poll_ms),
      metrics_(metrics) {}

OutboxRelay::~OutboxRelay() {
  stop();
  publisher_->onDeliveries(nullptr);
}

void OutboxRelay::start() {
  publisher_->onDeliveries([this] { wake(); });
  thread_ = std::thread([this] { run(); });
}

void OutboxRelay::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_wake_ = true;
  }
  wake_.notify_one();
}

void OutboxRelay::notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_wake_ = true;
    pending_writes_ = true;
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

void OutboxRelay::takeDeliveries() {
  deliveries_.clear();
  publisher_->collect(deliveries_);
  if (!deliveries_.empty()) last_answer_ = Clock::now();
  for (const Delivery& d : deliveries_) {
    auto it = std::lower_bound(in_flight_.begin(), in_flight_.end(), d.token,
                               [](const Sent& s, std::int64_t seq) { return s.seq < seq; });
    if (it == in_flight_.end() || it->seq != d.token || it->awaiting == 0) continue;  // not ours (cannot happen)
    --it->awaiting;
    if (!d.delivered) {
      it->failed = true;
      failure_ = true;
    }
  }
}

std::size_t OutboxRelay::deleteAcknowledged() {
  // The acknowledged prefix: it ends at the first event still on its way or failed, whatever
  // was acknowledged after it.
  std::size_t count = 0;
  while (count < in_flight_.size() && in_flight_[count].awaiting == 0 && !in_flight_[count].failed) ++count;
  if (count == 0) return 0;
  try {
    store_->markPublished(in_flight_[count - 1].seq);
  } catch (const StoreError& e) {
    // Acknowledged but still in the outbox: deleted by the next pass (or re-sent after a
    // restart, absorbed by the version rule).
    logEvent(LogLevel::Error, "outbox_mark_failed", {{"error", e.what()}});
    return 0;
  }
  std::int64_t acked_ms = nowMillis();
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Sent& s = in_flight_.front();
    metrics_.publish_latency.Observe(static_cast<double>(std::max<std::int64_t>(0, acked_ms - s.created_ms)) / 1000.0);
    bytes += s.bytes;
    in_flight_.pop_front();
  }
  metrics_.events_published.Increment(static_cast<double>(count));
  metrics_.bytes_published.Increment(static_cast<double>(bytes));
  return count;
}

bool OutboxRelay::sendBatch() {
  std::size_t window = kBatchesInFlight * batch_size_;
  if (!unread_ || in_flight_.size() >= window) return false;  // a full window stays unread_
  std::vector<OutboxEntry> batch;
  std::size_t asked = std::min(batch_size_, window - in_flight_.size());
  try {
    batch = store_->pendingEventsAfter(sent_up_to_, asked);
  } catch (const StoreError& e) {
    logEvent(LogLevel::Error, "outbox_read_failed", {{"error", e.what()}});
    return false;
  }
  unread_ = batch.size() == asked;
  if (batch.empty()) return false;
  if (in_flight_.empty()) last_answer_ = Clock::now();  // the broker's silence counts from here
  for (const OutboxEntry& e : batch) {
    const std::string& topic = topics_[plantIndex(e.plant)];
    // Tracked before it is sent: a refusal can be reported by the send itself.
    in_flight_.push_back({e.seq, e.created_ms, e.value.size(), 1, false});
    if (e.image_id == 0) {
      in_flight_.back().awaiting = publisher_->sendToAllPartitions(topic, kSnapshotMarkerKey, e.value, e.seq);
    } else {
      publisher_->send(topic, EventCodec::encodeKey(e.image_id), e.value, e.seq);
    }
    sent_up_to_ = e.seq;
  }
  return batch.size() == batch_size_;
}

void OutboxRelay::reportDepth(bool now) {
  auto t = Clock::now();
  if (!now && t < next_depth_) return;
  next_depth_ = t + std::chrono::milliseconds(100);
  try {
    metrics_.outbox_depth.Set(static_cast<double>(store_->pendingCount()));
  } catch (const StoreError&) {
    // Only the gauge goes stale.
  }
}

std::size_t OutboxRelay::publishOnce() {
  unread_ = true;
  return pass();
}

std::size_t OutboxRelay::pass() {
  if (!source()) return 0;
  takeDeliveries();
  std::size_t deleted = deleteAcknowledged();
  if (failure_) {
    bool answered = std::all_of(in_flight_.begin(), in_flight_.end(), [](const Sent& s) { return s.awaiting == 0; });
    if (answered) {
      // Everything after the acknowledged prefix goes again, from the failed event on, in
      // order: the idempotent producer cannot be asked to fill one gap alone.
      metrics_.publish_failures.Increment();
      logEvent(LogLevel::Warn, "outbox_publish_retry",
               {{"events", in_flight_.size()}, {"from_seq", in_flight_.empty() ? 0 : in_flight_.front().seq}});
      if (!in_flight_.empty()) sent_up_to_ = in_flight_.front().seq - 1;
      in_flight_.clear();
      failure_ = false;
      unread_ = true;
    }
  }
  read_full_ = !failure_ && sendBatch();
  if (!in_flight_.empty() && Clock::now() - last_answer_ >= std::chrono::seconds(10) &&
      Clock::now() >= next_wait_report_) {
    // However long the broker is away, what is on its way stays there until librdkafka gives
    // it up (message.timeout.ms): waited for, not queued again.
    next_wait_report_ = Clock::now() + std::chrono::seconds(10);
    auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - last_answer_);
    logEvent(LogLevel::Warn, "outbox_publish_waiting", {{"events", in_flight_.size()}, {"waited_s", waited.count()}});
  }
  reportDepth(false);
  return deleted;
}

void OutboxRelay::run() {
  logEvent(LogLevel::Info, "outbox_relay_started");
  while (!stop_) {
    pass();
    if (read_full_) continue;  // more may be waiting, and the window has room
    std::unique_lock<std::mutex> lock(mutex_);
    // Woken by a commit (notify) or by the broker's answers; the poll catches writes of other
    // processes into the same outbox.
    bool woken = wake_.wait_for(lock, std::chrono::milliseconds(poll_ms_),
                                [this] { return pending_wake_ || stop_.load(); });
    if (!woken || pending_writes_) unread_ = true;
    pending_wake_ = false;
    pending_writes_ = false;
  }
  // Drain what is committed, so a clean stop leaves an empty outbox when the broker is up.
  // A broker silent for a second, or a failure, ends it: what is unacknowledged stays in the
  // outbox for the next start.
  unread_ = true;
  for (;;) {
    pass();
    if (in_flight_.empty() && !unread_) break;
    if (failure_ || Clock::now() - last_answer_ >= std::chrono::seconds(1)) {
      logEvent(LogLevel::Warn, "outbox_publish_interrupted", {{"events", in_flight_.size()}});
      break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(10), [this] { return pending_wake_; });
    pending_wake_ = false;
  }
  reportDepth(true);
  logEvent(LogLevel::Info, "outbox_relay_stopped");
}

}  // namespace leafsync
