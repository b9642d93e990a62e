#include "TopicConsumer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

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
                             ConnectionPool<Store>& copy,
                             std::unique_ptr<DeadLetterSink> dead_letters,
                             ConsumerMetrics& metrics, SyncStatus& status)
    : config_(config),
      topic_(topic),
      copy_(copy),
      dead_letters_(std::move(dead_letters)),
      metrics_(metrics),
      status_(status),
      applier_context_{config_, topic_, copy_, *dead_letters_, metrics_, status_,
                       [this](const PartitionOffset& offset, std::int64_t newest_ts) {
                         committed(offset, newest_ts);
                       }},
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
  Clock::time_point next_refresh{};
  while (!stop_) {
    if (Clock::now() >= next_refresh) {
      refreshPositions();
      next_refresh = Clock::now() + std::chrono::milliseconds(500);
    }
    // Messages go to the partitions' own queues; this queue serves rebalances and errors.
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(100));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        // Every assigned partition's queue is taken before its assignment, so this is a
        // message of a partition no applier owns: not applied, not committed, read again by
        // its owner from the copy's offset.
        logEvent(LogLevel::Error, "message_without_applier",
                 {{"topic", topic_.name}, {"partition", message->partition()},
                  {"offset", message->offset()}});
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
  }
  stopAppliers(assignedPartitions());
  if (!ever_assigned_) {
    // librdkafka before 2.3.0 aborts when a cooperative-sticky consumer is destroyed before
    // its first assignment (confluentinc/librdkafka#4312; Debian ships 2.0.2). Let the join
    // finish, for a bounded time, before closing. An assignment meanwhile starts appliers;
    // close() stops them again.
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

std::vector<std::int32_t> TopicConsumer::assignedPartitions() const {
  std::vector<std::int32_t> partitions;
  for (const auto& [partition, applier] : appliers_) partitions.push_back(partition);
  return partitions;
}

void TopicConsumer::stopAppliers(const std::vector<std::int32_t>& partitions) {
  // All at once: each applies its batch in hand in parallel with the others.
  for (std::int32_t p : partitions) {
    if (auto it = appliers_.find(p); it != appliers_.end()) it->second->requestStop();
  }
  for (std::int32_t p : partitions) appliers_.erase(p);  // joins
}

void TopicConsumer::committed(const PartitionOffset& offset, std::int64_t newest_event_ts_ms) {
  // On an applier's thread: librdkafka's handle is thread-safe for these calls.
  std::int64_t low = 0;
  std::int64_t high = -1;
  consumer_->get_watermark_offsets(offset.topic, offset.partition, &low, &high);
  if (high >= 0) {
    metrics_.setLag(offset.topic, offset.partition, std::max<std::int64_t>(0, high - offset.next_offset));
  }
  status_.applied(offset.topic, offset.partition, offset.next_offset, high, newest_event_ts_ms);
  TopicPartitionList list;
  list.items.push_back(RdKafka::TopicPartition::create(offset.topic, offset.partition, offset.next_offset));
  consumer_->commitAsync(list.items);
}

std::optional<std::int64_t> TopicConsumer::storedOffset(const RdKafka::TopicPartition& tp) {
  for (int attempt = 0;; ++attempt) {
    try {
      return copy_.acquire()->nextOffset(tp.topic(), tp.partition());
    } catch (const StoreError& e) {
      metrics_.db_errors.Increment();
      metrics_.db_retries.Increment();
      logEvent(LogLevel::Error, "offset_read_failed",
               {{"topic", tp.topic()}, {"partition", tp.partition()}, {"attempt", attempt},
                {"error", e.what()}});
      if (stop_) return std::nullopt;
      backoff(attempt);
    }
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
      copy_.acquire()->applyBatch({}, {{tp.topic(), tp.partition(), high}});
      return high;
    } catch (const StoreError& e) {
      metrics_.db_errors.Increment();
      metrics_.db_retries.Increment();
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

void TopicConsumer::backoff(int attempt) {
  auto until = Clock::now() + retryDelay(attempt);
  while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void TopicConsumer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  metrics_.rebalances.Increment();
  bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    for (RdKafka::TopicPartition* tp : partitions) {
      std::optional<std::int64_t> stored = storedOffset(*tp);
      std::int64_t start = stored ? *stored : startWhenEmpty(*tp);
      tp->set_offset(start);
      status_.assigned(tp->topic(), tp->partition(), stored.value_or(-1),
                       !stored && config_.start_from_latest_when_empty);
      // Taken off the consumer's queue before the fetch starts, so no message of this
      // partition reaches anyone but its applier.
      std::unique_ptr<RdKafka::Queue> queue(consumer->get_partition_queue(tp));
      if (!queue || queue->forward(nullptr) != RdKafka::ERR_NO_ERROR) {
        // Cannot happen for a partition librdkafka just assigned; without its own queue the
        // partition would not be applied. Exceptions must not cross librdkafka's C frames:
        // end the process; its replacement resumes from the copy's offsets.
        logEvent(LogLevel::Error, "partition_queue_unavailable",
                 {{"topic", tp->topic()}, {"partition", tp->partition()}});
        std::abort();
      }
      appliers_[tp->partition()] =
          std::make_unique<PartitionApplier>(applier_context_, tp->partition(), std::move(queue));
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
    // Each applier commits the batch it holds before its partition moves, so the next owner
    // starts after it; one whose database is away gives its batch up, and the next owner
    // starts from the copy's offset.
    std::vector<std::int32_t> revoked;
    for (RdKafka::TopicPartition* tp : partitions) revoked.push_back(tp->partition());
    stopAppliers(revoked);
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
    stopAppliers(assignedPartitions());
    consumer->unassign();
  }
}

}  // namespace leafsync
