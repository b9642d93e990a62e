#include "TopicConsumer.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "leafsync/Log.h"

namespace leafsync {
namespace {

using Clock = std::chrono::steady_clock;

struct TopicPartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~TopicPartitionList() { RdKafka::TopicPartition::destroy(items); }
};

}  // namespace

TopicConsumer::TopicConsumer(const ConsumerConfig& config, const TopicConfig& topic,
                             std::unique_ptr<Store> store,
                             std::unique_ptr<DeadLetterSink> dead_letters,
                             ConsumerMetrics& metrics, SyncStatus& status)
    : config_(config),
      topic_(topic),
      store_(std::move(store)),
      dead_letters_(std::move(dead_letters)),
      metrics_(metrics),
      status_(status),
      applier_(topic_, *dead_letters_, metrics),
      logger_("consumer-" + topic.name) {
  auto props = config.kafka;
  // The copy holds the offsets; Kafka's committed offsets are only a mirror for tools.
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props.emplace("partition.assignment.strategy", "cooperative-sticky");
  props["client.id"] = (props.count("client.id") ? props["client.id"] : "leafsync") + "-" + topic.name;
  if (auto it = props.find("group.instance.id"); it != props.end()) {
    it->second += "-" + topic.name;  // one static member per topic consumer
  }
  auto conf = makeKafkaConf(props);
  std::string error;
  conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&logger_), error);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer_) throw ConfigError("cannot create consumer for '" + topic.name + "': " + error);
  pending_.reserve(static_cast<std::size_t>(config.batch_size));
}

TopicConsumer::~TopicConsumer() {
  requestStop();
  join();
}

void TopicConsumer::start() { thread_ = std::thread([this] { run(); }); }

void TopicConsumer::join() {
  if (thread_.joinable()) thread_.join();
}

void TopicConsumer::run() {
  RdKafka::ErrorCode err = consumer_->subscribe({topic_.name});
  if (err != RdKafka::ERR_NO_ERROR) {
    logEvent(LogLevel::Error, "subscribe_failed",
             {{"topic", topic_.name}, {"error", RdKafka::err2str(err)}});
    return;
  }
  logEvent(LogLevel::Info, "consumer_started", {{"topic", topic_.name}});
  const auto linger = std::chrono::milliseconds(config_.linger_ms);
  Clock::time_point deadline{};
  Clock::time_point next_refresh{};
  while (!stop_) {
    if (Clock::now() >= next_refresh) {
      refreshPositions();
      next_refresh = Clock::now() + std::chrono::milliseconds(500);
    }
    int timeout_ms = 100;
    if (!pending_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 100));
    }
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (pending_.empty()) deadline = Clock::now() + linger;
        pending_.push_back(std::move(message));
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        logEvent(LogLevel::Warn, "consume_error",
                 {{"topic", topic_.name}, {"error", message->errstr()}});
        if (message->err() == RdKafka::ERR__FATAL) stop_ = true;
        break;
    }
    if (!pending_.empty() &&
        (pending_.size() >= static_cast<std::size_t>(config_.batch_size) ||
         Clock::now() >= deadline)) {
      flushPending();
    }
  }
  flushPending();
  if (!ever_assigned_) {
    // librdkafka before 2.3.0 aborts when a cooperative-sticky consumer is destroyed before
    // its first assignment (confluentinc/librdkafka#4312; Debian ships 2.0.2). Let the join
    // finish, for a bounded time, before closing.
    auto until = Clock::now() + std::chrono::seconds(15);
    while (!ever_assigned_ && Clock::now() < until) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    }
  }
  // close() revokes our partitions through rebalance_cb and leaves the group at once.
  consumer_->close();
  if (!ever_assigned_) {
    logEvent(LogLevel::Warn, "consumer_never_assigned", {{"topic", topic_.name}});
    // Destroying it would abort the process (see above); the process is exiting anyway.
    (void)consumer_.release();
  }
  logEvent(LogLevel::Info, "consumer_stopped", {{"topic", topic_.name}});
}

void TopicConsumer::flushPending() {
  if (pending_.empty()) return;
  std::vector<InboundMessage> batch;
  batch.reserve(pending_.size());
  for (const auto& m : pending_) {
    InboundMessage in;
    in.topic = topic_.name;
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
               {{"topic", topic_.name}, {"attempt", attempt}, {"error", e.what()}});
      if (stop_) {
        pending_.clear();  // nothing committed: the next owner replays these messages
        return;
      }
      backoff(attempt);
    }
  }
  ApplyCounts counts;
  for (int attempt = 0;; ++attempt) {
    try {
      counts = applier_.commit(*store_, prepared);
      break;
    } catch (const StoreError& e) {
      logEvent(LogLevel::Error, "apply_failed",
               {{"topic", topic_.name}, {"attempt", attempt}, {"error", e.what()}});
      metrics_.db_retries.Increment();
      if (stop_ || !waitOutOutage(attempt)) {
        // Nothing of this batch is committed: whoever owns the partitions next replays it.
        pending_.clear();
        held_.clear();
        return;
      }
    }
  }
  for (std::int32_t partition : prepared.snapshot_ends) {
    status_.snapshotEnded(topic_.name, partition);
    logEvent(LogLevel::Info, "snapshot_end_applied", {{"topic", topic_.name}, {"partition", partition}});
  }
  std::int64_t newest_ts = 0;
  for (const ChangeEvent& e : prepared.events) newest_ts = std::max(newest_ts, e.source_ts_ms);
  for (const PartitionOffset& offset : prepared.offsets) {
    std::int64_t low = 0;
    std::int64_t high = -1;
    consumer_->get_watermark_offsets(offset.topic, offset.partition, &low, &high);
    if (high >= 0) metrics_.setLag(offset.topic, offset.partition, std::max<std::int64_t>(0, high - offset.next_offset));
    status_.applied(offset.topic, offset.partition, offset.next_offset, high, newest_ts);
  }
  logEvent(LogLevel::Debug, "batch_applied",
           {{"topic", topic_.name}, {"messages", pending_.size()},
            {"applied", counts.appliedTotal()}, {"stale", counts.stale},
            {"dead_lettered", prepared.dead_lettered}});
  commitToKafka(prepared.offsets);
  pending_.clear();
  // What arrived while the database was away follows this batch, in order.
  for (auto& m : held_) pending_.push_back(std::move(m));
  held_.clear();
}

bool TopicConsumer::waitOutOutage(int attempt) {
  // Keep serving the group (heartbeats, rebalances) while the database is away, so a long
  // outage does not get this member evicted; paused partitions fetch nothing new.
  TopicPartitionList assigned;
  consumer_->assignment(assigned.items);
  consumer_->pause(assigned.items);
  in_outage_ = true;
  revoked_in_outage_ = false;
  auto until = Clock::now() + std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6)));
  while (!stop_ && !revoked_in_outage_ && Clock::now() < until) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    if (message->err() == RdKafka::ERR_NO_ERROR) held_.push_back(std::move(message));  // fetched before the pause
  }
  in_outage_ = false;
  TopicPartitionList still_assigned;
  consumer_->assignment(still_assigned.items);
  consumer_->resume(still_assigned.items);
  return !revoked_in_outage_;
}

void TopicConsumer::rewindUncommitted() {
  // Our uncommitted messages are dropped; the partitions we keep must be read again from the
  // first of them (everything before it is committed in the copy).
  std::map<std::int32_t, std::int64_t> first;
  for (const auto* list : {&pending_, &held_}) {
    for (const auto& m : *list) {
      auto it = first.find(m->partition());
      if (it == first.end() || m->offset() < it->second) first[m->partition()] = m->offset();
    }
  }
  TopicPartitionList assigned;
  consumer_->assignment(assigned.items);
  for (RdKafka::TopicPartition* tp : assigned.items) {
    auto it = first.find(tp->partition());
    if (it == first.end()) continue;
    std::unique_ptr<RdKafka::TopicPartition> at(RdKafka::TopicPartition::create(tp->topic(), tp->partition(), it->second));
    consumer_->seek(*at, 1000);
  }
}

std::int64_t TopicConsumer::startWhenEmpty(const RdKafka::TopicPartition& tp) {
  // Resolved here rather than by the fetcher: OFFSET_BEGINNING costs librdkafka 2.0.2 a fixed
  // 500 ms offset-query timer, and "latest" resolved later would race with events published
  // meanwhile (a snapshot started right after this copy joined).
  std::int64_t low = 0;
  std::int64_t high = -1;
  bool latest = config_.start_from_latest_when_empty;
  RdKafka::ErrorCode err = consumer_->query_watermark_offsets(tp.topic(), tp.partition(), &low, &high, 10000);
  if (err != RdKafka::ERR_NO_ERROR || high < 0) {
    logEvent(LogLevel::Warn, "watermarks_unknown", {{"topic", tp.topic()}, {"partition", tp.partition()},
                                                    {"error", RdKafka::err2str(err)}});
    return latest ? RdKafka::Topic::OFFSET_END : RdKafka::Topic::OFFSET_BEGINNING;
  }
  if (!latest) return low;  // if retention moves it meanwhile, auto.offset.reset=earliest applies
  // Latest is stored as this partition's offset at once, so the choice is made once and
  // nothing published after it is skipped, even across a restart.
  for (int attempt = 0;; ++attempt) {
    try {
      store_->applyBatch({}, {{tp.topic(), tp.partition(), high}});
      return high;
    } catch (const StoreError& e) {
      logEvent(LogLevel::Error, "offset_store_failed", {{"error", e.what()}});
      if (stop_) return high;
      backoff(attempt);
    }
  }
}

void TopicConsumer::refreshPositions() {
  TopicPartitionList assigned;
  if (consumer_->assignment(assigned.items) != RdKafka::ERR_NO_ERROR || assigned.items.empty()) return;
  consumer_->position(assigned.items);
  for (RdKafka::TopicPartition* tp : assigned.items) {
    std::int64_t low = 0;
    std::int64_t high = -1;
    consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high);
    // Nothing fetched yet from an empty partition still means caught up.
    std::int64_t position = tp->offset() >= 0 ? tp->offset() : (high == low && high >= 0 ? high : -1);
    status_.observed(tp->topic(), tp->partition(), position, high);
    if (high >= 0 && position >= 0) metrics_.setLag(tp->topic(), tp->partition(), std::max<std::int64_t>(0, high - position));
  }
}

void TopicConsumer::commitToKafka(const std::vector<PartitionOffset>& offsets) {
  TopicPartitionList list;
  for (const PartitionOffset& o : offsets) {
    list.items.push_back(RdKafka::TopicPartition::create(o.topic, o.partition, o.next_offset));
  }
  consumer_->commitAsync(list.items);
}

void TopicConsumer::backoff(int attempt) {
  auto delay = std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6)));
  auto until = Clock::now() + delay;
  while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void TopicConsumer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  metrics_.rebalances.Increment();
  bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    for (RdKafka::TopicPartition* tp : partitions) {
      std::optional<std::int64_t> stored;
      for (int attempt = 0;; ++attempt) {
        try {
          stored = store_->nextOffset(tp->topic(), tp->partition());
          break;
        } catch (const StoreError& e) {
          logEvent(LogLevel::Error, "offset_read_failed", {{"error", e.what()}});
          if (stop_) break;
          backoff(attempt);
        }
      }
      std::int64_t start = stored ? *stored : startWhenEmpty(*tp);
      tp->set_offset(start);
      status_.assigned(tp->topic(), tp->partition(), stored.value_or(-1),
                       !stored && config_.start_from_latest_when_empty);
      logEvent(LogLevel::Info, "partition_assigned",
               {{"topic", tp->topic()}, {"partition", tp->partition()},
                {"offset", stored ? std::to_string(*stored) : std::string("none")}});
    }
    std::unique_ptr<RdKafka::Error> error;
    if (cooperative) {
      error.reset(consumer->incremental_assign(partitions));
    } else {
      consumer->assign(partitions);
    }
    if (error) logEvent(LogLevel::Error, "assign_failed", {{"error", error->str()}});
    status_.topicJoined(topic_.name);
    ever_assigned_ = true;
  } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    if (in_outage_) {
      // The database is away: what we hold cannot be committed, so the next owner replays it
      // from the offsets in the copy, and we read our remaining partitions again.
      revoked_in_outage_ = true;
      rewindUncommitted();
      logEvent(LogLevel::Warn, "batch_abandoned_in_outage", {{"topic", topic_.name}, {"messages", pending_.size() + held_.size()}});
    } else {
      // Apply what we hold before the partitions move, so the next owner starts after it.
      flushPending();
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      status_.revoked(tp->topic(), tp->partition());
      metrics_.clearLag(tp->topic(), tp->partition());
      logEvent(LogLevel::Info, "partition_revoked",
               {{"topic", tp->topic()}, {"partition", tp->partition()}});
    }
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> error(consumer->incremental_unassign(partitions));
    } else {
      consumer->unassign();
    }
  } else {
    logEvent(LogLevel::Error, "rebalance_error", {{"error", RdKafka::err2str(err)}});
    consumer->unassign();
  }
}

}  // namespace leafsync
