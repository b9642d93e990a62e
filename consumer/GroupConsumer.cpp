#include "GroupConsumer.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "KafkaPartitionSource.h"
#include "MemoryPlan.h"
#include "leafsync/Log.h"
#include "leafsync/MallocTuning.h"
#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

using Clock = std::chrono::steady_clock;

struct TopicPartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~TopicPartitionList() { RdKafka::TopicPartition::destroy(items); }
};

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

}  // namespace

void GroupConsumer::QueueHandle::operator()(rd_kafka_queue_s* queue) const { rd_kafka_queue_destroy(queue); }

GroupConsumer::GroupConsumer(const ConsumerConfig& config, ConnectionPool<Store>& copy,
                             KafkaDeadLetterProducer& dead_letters, ConsumerMetrics& metrics, SyncStatus& status,
                             FatalHandler fatal)
    : config_(config),
      copy_(copy),
      dead_letters_(dead_letters),
      metrics_(metrics),
      status_(status),
      fatal_(std::move(fatal)),
      logger_("consumer", [this](const std::string& reason) { fail(reason); }) {
  for (const TopicConfig& topic : config_.topics) {
    const std::string& name = topic.name;
    topics_.push_back(name);
    contexts_.emplace(name, std::make_unique<PartitionApplierContext>(PartitionApplierContext{
                                config_, topic, copy_, dead_letters_, metrics_, status_,
                                [this](const PartitionOffset& offset, std::int64_t newest_ts) {
                                  committed(offset, newest_ts);
                                },
                                [this, name](std::int32_t partition, Store& store) {
                                  return resolveStart(name, partition, store);
                                },
                                [this, name](std::int32_t partition, std::int64_t offset) {
                                  seek(name, partition, offset);
                                },
                                [this, name](std::int32_t partition) { return cachedHighWatermark(name, partition); },
                                [this](const std::string& reason) { fail(reason); }}));
  }
  auto props = config.kafka;
  // The copy holds the offsets; Kafka's committed offsets are only a mirror for tools.
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props.emplace("partition.assignment.strategy", "cooperative-sticky");
  props.emplace("client.id", "leafsync");
  auto conf = makeKafkaConf(props);
  std::string error;
  conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), error);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(this), error);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer_) throw ConfigError("cannot create the Kafka consumer: " + error);
  consumer_queue_.reset(rd_kafka_queue_get_consumer(consumer_->c_ptr()));
  status_.watchFetcher(
      [this](const std::string& topic, std::int32_t partition) { return cachedHighWatermark(topic, partition); });
}

GroupConsumer::~GroupConsumer() {
  requestStop();
  join();
  status_.watchFetcher(nullptr);
}

void GroupConsumer::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ls:consumer");  // beside librdkafka's rdk:* in /proc and perf
    run();
  });
}

void GroupConsumer::requestStop() {
  stop_ = true;
  wakePoll();
}

void GroupConsumer::wakePoll() {
  // Sticks until the next wait if none is in progress: a wake is never lost.
  if (consumer_queue_) rd_kafka_queue_yield(consumer_queue_.get());
}

void GroupConsumer::join() {
  if (thread_.joinable()) thread_.join();
}

void GroupConsumer::run() {
  poll();
  if (!stop_) fail("the consumer thread ended");
  status_.watchFetcher(nullptr);  // before the handle can go (below)
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
    logEvent(LogLevel::Warn, "consumer_never_assigned", {{"topics", joined(topics_)}});
    // Destroying it would abort the process (see above); the process is exiting anyway.
    (void)consumer_queue_.release();
    (void)consumer_.release();
  }
  logEvent(LogLevel::Info, "consumer_stopped", {{"topics", joined(topics_)}});
}

void GroupConsumer::fail(const std::string& reason) {
  stop_ = true;
  wakePoll();
  fatal_(reason);
}

void GroupConsumer::unsettle() {
  unsettled_at_ms_ = steadyMs();
  // Out of a quiet wait at once: after an assignment the partitions' high watermarks must come
  // from the broker before their first commits, or a commit taking librdkafka's cached figure
  // from before a broker crash makes a copy thousands behind look caught up (FailLoudlyTest:
  // seen when the assignment came during a quiet wait of 5 s).
  if (quiet_.exchange(false)) wakePoll();
}

Clock::time_point GroupConsumer::refreshDue(bool settled) {
  bool recent = steadyMs() - unsettled_at_ms_.load() < kSettle.count();
  bool quiet = settled && !recent;
  // Set before the wait: a commit from now on wakes it (committed()).
  quiet_ = quiet;
  return Clock::now() + (quiet ? kQuietRefresh : kBusyRefresh);
}

void GroupConsumer::poll() {
  RdKafka::ErrorCode err = consumer_->subscribe(topics_);
  if (err != RdKafka::ERR_NO_ERROR) {
    return fail("cannot subscribe to topics '" + joined(topics_) + "': " + RdKafka::err2str(err));
  }
  logEvent(LogLevel::Info, "consumer_started", {{"topics", joined(topics_)}});
  unsettle();
  Clock::time_point next_refresh{};
  while (!stop_) {
    if (Clock::now() >= next_refresh) {
      mirrorOffsets();
      bool settled = refreshPositions();
      dead_letters_.serve();
      // Under a budget, what the appliers' batches freed goes back to the system rather
      // than staying in malloc's free lists as RSS.
      if (config_.memory_budget_mb > 0) releaseFreeMemory();
      next_refresh = refreshDue(settled);
    }
    // Messages go to the partitions' own queues; this queue serves rebalances and errors,
    // so the wait lasts until the next refresh (a stop, or an assignment or error after a
    // quiet refresh, ends it early: wakePoll()).
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_refresh - Clock::now());
    std::unique_ptr<RdKafka::Message> message(
        consumer_->consume(static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, kQuietRefresh.count()))));
    if (quiet_.load() == false && next_refresh - Clock::now() > kBusyRefresh) {
      next_refresh = Clock::now();  // unsettled out of a quiet wait: refresh now
    }
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        // Every assigned partition's queue is taken before its assignment, so this is a
        // message of a partition no applier owns: not applied, not committed, read again by
        // its owner from the copy's offset.
        logEvent(LogLevel::Error, "message_without_applier",
                 {{"topic", message->topic_name()}, {"partition", message->partition()},
                  {"offset", message->offset()}});
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      case RdKafka::ERR__FATAL: {
        std::string why;
        RdKafka::ErrorCode cause = consumer_->fatal_error(why);
        return fail("Kafka fatal error: " + RdKafka::err2str(cause) + ": " + why);
      }
      // Credentials or ACLs refused: retrying does not change the answer.
      case RdKafka::ERR__AUTHENTICATION:
      case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
      case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
        return fail("Kafka refused topics '" + joined(topics_) + "': " + message->errstr());
      default:
        unsettle();
        logEvent(LogLevel::Warn, "consume_error",
                 {{"topic", message->topic_name()}, {"error", message->errstr()}});
        break;
    }
  }
}

void GroupConsumer::event_cb(RdKafka::Event& event) {
  // An error (a broker down, a request timed out) may leave the fetcher's cached watermarks
  // stale while the group sorts itself out: refresh often until things have been calm.
  if (event.type() == RdKafka::Event::EVENT_ERROR) unsettle();
  logger_.event_cb(event);
}

std::vector<GroupConsumer::Key> GroupConsumer::assignedPartitions() const {
  std::vector<Key> partitions;
  for (const auto& [key, applier] : appliers_) partitions.push_back(key);
  return partitions;
}

void GroupConsumer::stopAppliers(const std::vector<Key>& partitions) {
  // All at once: each applies its batch in hand in parallel with the others.
  for (const Key& key : partitions) {
    if (auto it = appliers_.find(key); it != appliers_.end()) it->second->requestStop();
  }
  for (const Key& key : partitions) appliers_.erase(key);  // joins
}

void GroupConsumer::committed(const PartitionOffset& offset, std::int64_t newest_event_ts_ms) {
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
  {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    to_mirror_[{offset.topic, offset.partition}] = offset.next_offset;
  }
  // A commit does not end a quiet wait: lag and readiness take the fetcher's figure meanwhile
  // (SyncStatus::watchFetcher), and at LIMS's rate of a write a second a refresh per commit was
  // a ListOffsets and an OffsetCommit per event on the wire. The next refresh finds the lag and
  // goes back to twice a second if anything is behind.
}

void GroupConsumer::mirrorOffsets() {
  std::map<Key, std::int64_t> offsets;
  {
    std::lock_guard<std::mutex> lock(mirror_mutex_);
    offsets.swap(to_mirror_);
  }
  if (offsets.empty()) return;
  TopicPartitionList list;
  for (const auto& [key, next] : offsets) {
    list.items.push_back(RdKafka::TopicPartition::create(key.first, key.second, next));
  }
  consumer_->commitAsync(list.items);
}

std::int64_t GroupConsumer::cachedHighWatermark(const std::string& topic, std::int32_t partition) {
  // On an applier's or an HTTP thread: get_watermark_offsets only reads librdkafka's cache.
  std::int64_t low = 0;
  std::int64_t high = -1;
  consumer_->get_watermark_offsets(topic, partition, &low, &high);
  return high;
}

StartOffset GroupConsumer::resolveStart(const std::string& topic, std::int32_t partition, Store& store) {
  if (std::optional<std::int64_t> stored = store.nextOffset(topic, partition)) return {*stored, false};
  // The copy answered and never saw this partition: start_when_empty applies. Resolved here
  // rather than by the fetcher: OFFSET_BEGINNING costs librdkafka 2.0.2 a fixed 500 ms
  // offset-query timer, and "latest" resolved later would race with events published
  // meanwhile (a snapshot started right after this copy joined).
  // ListOffsets asks by timestamp: -2 is the earliest offset still kept, -1 the latest.
  bool latest = config_.start_from_latest_when_empty;
  TopicPartitionList end;
  end.items = {RdKafka::TopicPartition::create(topic, partition, latest ? -1 : -2)};
  RdKafka::ErrorCode err = dead_letters_.listOffsets(end.items, kListOffsetsTimeoutMs);
  if (err == RdKafka::ERR_NO_ERROR) err = end.items[0]->err();
  std::int64_t offset = end.items[0]->offset();
  if (err != RdKafka::ERR_NO_ERROR || offset < 0) {
    throw StartUnknown("watermarks of " + topic + "/" + std::to_string(partition) +
                       " unknown: " + RdKafka::err2str(err));
  }
  if (!latest) return {offset, true};  // retention moving it: auto.offset.reset
  // Latest is stored as this partition's offset at once, so the choice is made once and
  // nothing published after it is skipped, even across a restart.
  store.applyBatch({}, {{topic, partition, offset}});
  return {offset, true};
}

void GroupConsumer::seek(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic, partition, offset));
  RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
  if (err != RdKafka::ERR_NO_ERROR) {
    throw StartUnknown("cannot seek " + topic + "/" + std::to_string(partition) + " to " +
                       std::to_string(offset) + ": " + RdKafka::err2str(err));
  }
}

bool GroupConsumer::refreshPositions() {
  bool settled = true;
  TopicPartitionList assigned;
  if (consumer_->assignment(assigned.items) == RdKafka::ERR_NO_ERROR && !assigned.items.empty()) {
    // Asked of the broker (one ListOffsets for "latest", timestamp -1), not taken from the
    // fetcher's cache: a partition that is not being fetched — its member rejoining the
    // group after a broker crash — keeps a cached high watermark from before, and would look
    // caught up while thousands of events wait.
    settled = observeEnds(assigned.items);
    if (!settled) unsettle();
  }
  return publishPositions() && settled;
}

bool GroupConsumer::observeEnds(std::vector<RdKafka::TopicPartition*>& partitions) {
  for (RdKafka::TopicPartition* tp : partitions) tp->set_offset(-1);
  bool asked = dead_letters_.listOffsets(partitions, kListOffsetsTimeoutMs) == RdKafka::ERR_NO_ERROR;
  // When the broker does not answer, nothing is observed: a partition keeps the figure the
  // broker last gave, and one assigned since stays "position not known" (not ready). The
  // fetcher's cache is no stand-in: right after a broker restart ListOffsets can fail while
  // the relay already produces, and a partition reassigned meanwhile took the pre-crash
  // figure from it and looked caught up thousands of events behind (FailLoudlyTest).
  bool all = true;
  for (RdKafka::TopicPartition* tp : partitions) {
    if (asked && tp->err() == RdKafka::ERR_NO_ERROR) {
      status_.observed(tp->topic(), tp->partition(), tp->offset());
    } else {
      all = false;
    }
  }
  return all;
}

bool GroupConsumer::publishPositions() {
  bool caught_up = true;
  std::int64_t now = nowMillis();
  std::vector<PartitionStatus> partitions = status_.partitions();
  focusFetch(partitions, now);
  for (const PartitionStatus& p : partitions) {
    if (p.lag() >= 0) metrics_.setLag(p.topic, p.partition, p.lag());
    metrics_.setStalled(p.topic, p.partition, p.stalled(now, status_.stallAfterMs()));
    // Behind, or its offset or position not known: watched twice a second until caught up.
    if (p.lag() != 0) caught_up = false;
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
  return caught_up;
}

void GroupConsumer::focusFetch(const std::vector<PartitionStatus>& partitions, std::int64_t now_ms) {
  bool was_focused = !focus_.paused().empty();
  FetchFocus::Change change = focus_.decide(partitions, now_ms);
  setFetchPaused(change.pause, true);
  setFetchPaused(change.resume, false);
  bool focused = !focus_.paused().empty();
  if (focused == was_focused) return;
  // One line per focus, not per pause: a caught-up partition taking a trickle is paused and
  // resumed with every event meanwhile.
  auto names = [](const auto& keys) {
    std::string text;
    for (const auto& [topic, partition] : keys) text += (text.empty() ? "" : ",") + topic + "/" + std::to_string(partition);
    return text;
  };
  if (focused) {
    logEvent(LogLevel::Info, "fetch_focused",
             {{"catching_up", names(focus_.catchingUp())}, {"paused", names(focus_.paused())}});
  } else {
    logEvent(LogLevel::Info, "fetch_unfocused", {{"resumed", names(change.resume)}});
  }
}

void GroupConsumer::focusAssigned(const std::vector<RdKafka::TopicPartition*>& partitions) {
  if (partitions.empty()) return;
  // A copy: the assignment's own list holds the start offsets librdkafka was given.
  TopicPartitionList ends;
  for (RdKafka::TopicPartition* tp : partitions) ends.items.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
  // A partition left unanswered stays "position not known": nothing is paused for it, and the
  // refreshes decide as they would without this.
  observeEnds(ends.items);
  focus_.assigned(status_.partitions());
  // The gauges too: the copy can be ready on these figures before the first refresh.
  publishPositions();
}

void GroupConsumer::setFetchPaused(const std::vector<FetchFocus::Key>& partitions, bool paused) {
  if (partitions.empty()) return;
  TopicPartitionList list;
  for (const auto& [topic, partition] : partitions) list.items.push_back(RdKafka::TopicPartition::create(topic, partition));
  RdKafka::ErrorCode err = paused ? consumer_->pause(list.items) : consumer_->resume(list.items);
  for (RdKafka::TopicPartition* tp : list.items) {
    if (err != RdKafka::ERR_NO_ERROR || tp->err() != RdKafka::ERR_NO_ERROR) {
      // Left as it was; a resume is asked again at the next refresh (a partition left paused
      // with events waiting would be stalled).
      FetchFocus::Key key{tp->topic(), tp->partition()};
      paused ? focus_.pauseFailed(key) : focus_.resumeFailed(key);
      logEvent(LogLevel::Warn, paused ? "fetch_pause_failed" : "fetch_resume_failed",
               {{"topic", tp->topic()}, {"partition", tp->partition()},
                {"error", RdKafka::err2str(err != RdKafka::ERR_NO_ERROR ? err : tp->err())}});
      continue;
    }
    status_.fetchPaused(tp->topic(), tp->partition(), paused);
    metrics_.setFetchPaused(tp->topic(), tp->partition(), paused);
  }
}

void GroupConsumer::resumeForgotten(const std::vector<Key>& partitions) {
  // A pause is a flag on librdkafka's partition object, which outlives the assignment: resumed
  // before the partition goes, so no later assignment of it can start paused and unfetched.
  std::vector<Key> paused;
  for (const Key& key : partitions) {
    if (focus_.forget(key)) paused.push_back(key);
  }
  if (paused.empty()) return;
  TopicPartitionList list;
  for (const auto& [topic, partition] : paused) list.items.push_back(RdKafka::TopicPartition::create(topic, partition));
  consumer_->resume(list.items);
  for (const auto& [topic, partition] : paused) status_.fetchPaused(topic, partition, false);
}

void GroupConsumer::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  metrics_.rebalances.Increment();
  unsettle();  // watermarks asked twice a second until the group has been calm for a while
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
        start = resolveStart(tp->topic(), tp->partition(), **lease);
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
      auto context = contexts_.find(tp->topic());
      if (context == contexts_.end()) {
        // Cannot happen: the subscription names exactly the configured topics.
        logEvent(LogLevel::Error, "partition_of_unknown_topic",
                 {{"topic", tp->topic()}, {"partition", tp->partition()}});
        std::abort();
      }
      // A ListOffsets to the partition's leader wakes the broker thread that fetches it
      // (RefetchPacer). Its answer is of no use; it is waited for all the same (one round
      // trip, at most 500 ms) rather than left in flight behind the call.
      auto wake_fetch = [consumer, topic = tp->topic(), partition = tp->partition()] {
        std::unique_ptr<RdKafka::TopicPartition> latest(RdKafka::TopicPartition::create(topic, partition, -1));
        std::vector<RdKafka::TopicPartition*> list{latest.get()};
        consumer->offsetsForTimes(list, 500);
      };
      appliers_[{tp->topic(), tp->partition()}] = std::make_unique<PartitionApplier>(
          *context->second, tp->partition(),
          std::make_unique<KafkaPartitionSource>(context->first, tp->partition(), std::move(queue), consumer->c_ptr(),
                                                 std::move(wake_fetch), prefetchQueueBytes(config_.kafka)),
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
    focusAssigned(partitions);
    // The group gives this member its share of every subscribed topic, possibly none.
    for (const std::string& topic : topics_) status_.topicJoined(topic);
    ever_assigned_ = true;
  } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    // Each applier commits the batch it holds before its partition moves, so the next owner
    // starts after it; one whose database is away gives its batch up, and the next owner
    // starts from the copy's offset.
    std::vector<Key> revoked;
    for (RdKafka::TopicPartition* tp : partitions) revoked.emplace_back(tp->topic(), tp->partition());
    stopAppliers(revoked);
    resumeForgotten(revoked);
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
    resumeForgotten({focus_.paused().begin(), focus_.paused().end()});
    consumer->unassign();
  }
}

}  // namespace leafsync
