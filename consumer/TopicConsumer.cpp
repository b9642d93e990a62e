#include "TopicConsumer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "leafsync/MallocTuning.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

using Clock = std::chrono::steady_clock;

struct TopicPartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~TopicPartitionList() { RdKafka::TopicPartition::destroy(items); }
};

}  // namespace

TopicConsumer::TopicConsumer(const ConsumerConfig& config, const TopicConfig& topic,
                             ConnectionPool<Store>& copy, DeadLetterSink& dead_letters,
                             ConsumerMetrics& metrics, SyncStatus& status, FatalHandler fatal)
    : config_(config),
      topic_(topic),
      copy_(copy),
      dead_letters_(dead_letters),
      metrics_(metrics),
      status_(status),
      fatal_(std::move(fatal)),
      applier_context_{config_, topic_, copy_, dead_letters_, metrics_, status_,
                       [this](const PartitionOffset& offset, std::int64_t newest_ts) {
                         committed(offset, newest_ts);
                       },
                       [this](std::int32_t partition, Store& store) { return resolveStart(partition, store); },
                       [this](std::int32_t partition, std::int64_t offset) { seek(partition, offset); },
                       [this](std::int32_t partition) { return cachedHighWatermark(partition); },
                       [this](const std::string& reason) { fail(reason); }},
      logger_("consumer-" + topic.name, [this](const std::string& reason) { fail(reason); }) {
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
  poll();
  if (!stop_) fail("the consumer thread of topic '" + topic_.name + "' ended");
  stopAppliers(assignedPartitions());
  mirrorOffsets();
  if (!ever_assigned_) {
    // librdkafka before 2.3.0 aborts when a cooperative-sticky consumer is destroyed before
    // its first assignment (confluentinc/librdkafka#4312; Debian ships 2.0.2). Let the join
    // finish, for a bounded time (kafka.first_assignment_wait_ms: with no broker this is the
    // whole stop), before closing. An assignment meanwhile starts appliers; close() stops them.
    auto until = Clock::now() + std::chrono::milliseconds(config_.first_assignment_wait_ms);
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

void TopicConsumer::fail(const std::string& reason) {
  stop_ = true;
  fatal_(reason);
}

void TopicConsumer::poll() {
  RdKafka::ErrorCode err = consumer_->subscribe({topic_.name});
  if (err != RdKafka::ERR_NO_ERROR) {
    return fail("cannot subscribe to topic '" + topic_.name + "': " + RdKafka::err2str(err));
  }
  logEvent(LogLevel::Info, "consumer_started", {{"topic", topic_.name}});
  Clock::time_point next_refresh{};
  while (!stop_) {
    if (Clock::now() >= next_refresh) {
      mirrorOffsets();
      refreshPositions();
      // Under a budget, what the appliers' batches freed goes back to the system rather
      // than staying in malloc's free lists as RSS.
      if (config_.memory_budget_mb > 0) releaseFreeMemory();
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
      case RdKafka::ERR__FATAL: {
        std::string why;
        RdKafka::ErrorCode cause = consumer_->fatal_error(why);
        return fail("Kafka fatal error on topic '" + topic_.name + "': " + RdKafka::err2str(cause) + ": " + why);
      }
      // Credentials or ACLs refused: retrying does not change the answer.
      case RdKafka::ERR__AUTHENTICATION:
      case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
      case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
        return fail("Kafka refused topic '" + topic_.name + "': " + message->errstr());
      default:
        logEvent(LogLevel::Warn, "consume_error",
                 {{"topic", topic_.name}, {"error", message->errstr()}});
        break;
    }
  }
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
  status_.applied(offset.topic, offset.partition, offset.next_offset, high, newest_event_ts_ms);
  if (high >= 0) {  // the gauge's truth comes with the next refresh, from the broker
    metrics_.setLag(offset.topic, offset.partition, std::max<std::int64_t>(0, high - offset.next_offset));
  }
  // Mirrored to Kafka by the consumer thread with its next refresh: one OffsetCommit for all
  // partitions twice a second, not one per batch (with natural batching a batch can be one
  // event, and thousands of commits a second starved the group coordinator of heartbeats).
  std::lock_guard<std::mutex> lock(mirror_mutex_);
  to_mirror_[offset.partition] = offset.next_offset;
}

void TopicConsumer::mirrorOffsets() {
  std::map<std::int32_t, std::int64_t> offsets;
  {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    offsets.swap(to_mirror_);
  }
  if (offsets.empty()) return;
  TopicPartitionList list;
  for (const auto& [partition, next] : offsets) {
    list.items.push_back(RdKafka::TopicPartition::create(topic_.name, partition, next));
  }
  consumer_->commitAsync(list.items);
}

std::int64_t TopicConsumer::cachedHighWatermark(std::int32_t partition) {
  // On an applier's thread: get_watermark_offsets only reads librdkafka's cache.
  std::int64_t low = 0;
  std::int64_t high = -1;
  consumer_->get_watermark_offsets(topic_.name, partition, &low, &high);
  return high;
}

StartOffset TopicConsumer::resolveStart(std::int32_t partition, Store& store) {
  if (std::optional<std::int64_t> stored = store.nextOffset(topic_.name, partition)) return {*stored, false};
  // The copy answered and never saw this partition: start_when_empty applies. Resolved here
  // rather than by the fetcher: OFFSET_BEGINNING costs librdkafka 2.0.2 a fixed 500 ms
  // offset-query timer, and "latest" resolved later would race with events published
  // meanwhile (a snapshot started right after this copy joined).
  std::int64_t low = 0;
  std::int64_t high = -1;
  RdKafka::ErrorCode err = consumer_->query_watermark_offsets(topic_.name, partition, &low, &high, 5000);
  if (err != RdKafka::ERR_NO_ERROR || high < 0) {
    throw StartUnknown("watermarks of " + topic_.name + "/" + std::to_string(partition) +
                       " unknown: " + RdKafka::err2str(err));
  }
  if (!config_.start_from_latest_when_empty) return {low, true};  // retention moving it: auto.offset.reset
  // Latest is stored as this partition's offset at once, so the choice is made once and
  // nothing published after it is skipped, even across a restart.
  store.applyBatch({}, {{topic_.name, partition, high}});
  return {high, true};
}

void TopicConsumer::seek(std::int32_t partition, std::int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic_.name, partition, offset));
  RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
  if (err != RdKafka::ERR_NO_ERROR) {
    throw StartUnknown("cannot seek " + topic_.name + "/" + std::to_string(partition) + " to " +
                       std::to_string(offset) + ": " + RdKafka::err2str(err));
  }
}

void TopicConsumer::refreshPositions() {
  TopicPartitionList assigned;
  if (consumer_->assignment(assigned.items) == RdKafka::ERR_NO_ERROR && !assigned.items.empty()) {
    // Asked of the broker (one ListOffsets for "latest", timestamp -1), not taken from the
    // fetcher's cache: a partition that is not being fetched — its member rejoining the
    // group after a broker crash — keeps a cached high watermark from before, and would look
    // caught up while thousands of events wait.
    for (RdKafka::TopicPartition* tp : assigned.items) tp->set_offset(-1);
    bool asked = consumer_->offsetsForTimes(assigned.items, 500) == RdKafka::ERR_NO_ERROR;
    // When the broker does not answer, nothing is observed: a partition keeps the figure the
    // broker last gave, and one assigned since stays "position not known" (not ready). The
    // fetcher's cache is no stand-in: right after a broker restart ListOffsets can fail while
    // the relay already produces, and a partition reassigned meanwhile took the pre-crash
    // figure from it and looked caught up thousands of events behind (FailLoudlyTest).
    for (RdKafka::TopicPartition* tp : assigned.items) {
      if (asked && tp->err() == RdKafka::ERR_NO_ERROR) status_.observed(tp->topic(), tp->partition(), tp->offset());
    }
  }
  std::int64_t now = nowMillis();
  for (const PartitionStatus& p : status_.partitions()) {
    if (p.topic != topic_.name) continue;
    if (p.lag() >= 0) metrics_.setLag(p.topic, p.partition, p.lag());
    metrics_.setStalled(p.topic, p.partition, p.stalled(now, status_.stallAfterMs()));
  }
  for (const StallChange& change : status_.stallChanges()) {
    const PartitionStatus& p = change.partition;
    if (change.stalled) {
      logEvent(LogLevel::Error, "partition_stalled",
               {{"topic", p.topic}, {"partition", p.partition}, {"next_offset", p.next_offset},
                {"lag", p.lag()}, {"for_s", (now - p.progress_ms) / 1000}, {"last_error", p.last_error}});
    } else {
      logEvent(LogLevel::Info, "partition_unstalled",
               {{"topic", p.topic}, {"partition", p.partition}, {"next_offset", p.next_offset}, {"lag", p.lag()}});
    }
  }
}

void TopicConsumer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  metrics_.rebalances.Increment();
  bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    std::optional<ConnectionPool<Store>::Lease> lease;
    bool copy_unreadable = false;
    for (RdKafka::TopicPartition* tp : partitions) {
      // One attempt: the callback must not wait out a database outage (librdkafka would
      // leave the group after max.poll.interval.ms). If it fails, the applier reads the
      // offset itself and seeks; meanwhile the fetch waits at the beginning, below anything
      // the copy can have applied, and the applier drops what is below its start.
      std::optional<StartOffset> start;
      try {
        // One connection for the whole assignment; after one failure the others do not
        // wait on the database either (a connect can take connect_timeout).
        if (copy_unreadable) throw StoreError("the copy did not answer for an earlier partition");
        if (!lease) lease.emplace(copy_.acquire());
        start = resolveStart(tp->partition(), **lease);
      } catch (const StoreError& e) {
        copy_unreadable = true;
        metrics_.db_errors.Increment();
        logEvent(LogLevel::Error, "offset_read_failed",
                 {{"topic", tp->topic()}, {"partition", tp->partition()}, {"attempt", 0},
                  {"error", e.what()}});
      } catch (const StartUnknown& e) {
        logEvent(LogLevel::Warn, "start_offset_unknown",
                 {{"topic", tp->topic()}, {"partition", tp->partition()}, {"error", e.what()}});
      }
      tp->set_offset(start ? start->offset : RdKafka::Topic::OFFSET_BEGINNING);
      status_.assigned(tp->topic(), tp->partition(), start ? start->offset : -1,
                       start && start->from_empty && config_.start_from_latest_when_empty);
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
      appliers_[tp->partition()] = std::make_unique<PartitionApplier>(
          applier_context_, tp->partition(), std::move(queue),
          start ? std::optional<std::int64_t>(start->offset) : std::nullopt);
      logEvent(LogLevel::Info, "partition_assigned",
               {{"topic", tp->topic()}, {"partition", tp->partition()},
                {"offset", start ? std::to_string(start->offset) : std::string("unread")},
                {"from_empty", start && start->from_empty}});
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
    mirrorOffsets();  // while the partitions are still ours
    for (RdKafka::TopicPartition* tp : partitions) {
      status_.revoked(tp->topic(), tp->partition());
      metrics_.clearPartition(tp->topic(), tp->partition());
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
