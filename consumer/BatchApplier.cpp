#include "BatchApplier.h"

#include <chrono>
#include <map>
#include <stdexcept>

#include "DeadLetterRecord.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

BatchApplier::BatchApplier(const TopicConfig& topic, DeadLetterSink& dead_letters,
                           ConsumerMetrics& metrics)
    : topic_(topic),
      dead_letters_(dead_letters),
      metrics_(metrics),
      topic_metrics_(metrics.topic(topic.name)) {}

PreparedBatch BatchApplier::prepare(const std::vector<InboundMessage>& messages) {
  PreparedBatch batch;
  batch.events.reserve(messages.size());
  std::map<std::int32_t, std::int64_t> next_offsets;
  std::size_t bytes = 0;
  for (const InboundMessage& m : messages) {
    bytes += m.key.size() + m.value.size();
    auto& next = next_offsets[m.partition];
    next = std::max(next, m.offset + 1);
    if (!m.has_value) {
      // A compaction tombstone after a delete: the delete event itself carried the change.
      topic_metrics_.ignored_tombstone.Increment();
      continue;
    }
    DecodeResult decoded = topic_.format == EventFormat::Debezium ? debezium_.decode(m.key, m.value, topic_.plant)
                                                                  : codec_.decode(m.key, m.value);
    std::string reason;
    if (auto* error = std::get_if<DecodeError>(&decoded)) {
      reason = std::move(error->reason);
    } else if (auto* marker = std::get_if<SnapshotMarker>(&decoded)) {
      if (marker->plant == topic_.plant) {
        batch.snapshot_ends.push_back(m.partition);
        continue;
      }
      reason = "snapshot marker of plant '" + std::string(plantName(marker->plant)) + "' on topic '" + topic_.name + "'";
    } else {
      ChangeEvent& event = std::get<ChangeEvent>(decoded);
      if (event.plant != topic_.plant) {
        reason = "plant '" + std::string(plantName(event.plant)) + "' does not belong on topic '" +
                 topic_.name + "'";
      } else {
        batch.events.push_back(std::move(event));
        continue;
      }
    }
    logEvent(LogLevel::Warn, "event_dead_lettered",
             {{"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset},
              {"bytes", m.value.size()}, {"reason", capReason(reason, kLoggedReasonBytes)}});
    batch.dead_letters.push_back({m, std::move(reason)});
  }
  topic_metrics_.events_consumed.Increment(static_cast<double>(messages.size()));
  topic_metrics_.bytes_consumed.Increment(static_cast<double>(bytes));
  for (const auto& [partition, next] : next_offsets) {
    batch.offsets.push_back({topic_.name, partition, next});
  }
  return batch;
}

std::string BatchApplier::deliverDeadLetters(PreparedBatch& batch) {
  std::vector<DeadLetter*> pending;
  for (DeadLetter& letter : batch.dead_letters) {
    if (!letter.delivered) pending.push_back(&letter);
  }
  if (pending.empty()) return "";
  std::string error = dead_letters_.deliver(pending);
  std::size_t delivered = 0;
  for (const DeadLetter* letter : pending) delivered += letter->delivered ? 1 : 0;
  if (delivered > 0) topic_metrics_.dead_lettered.Increment(static_cast<double>(delivered));
  if (delivered < pending.size()) {
    metrics_.dead_letter_failures.Increment();
    if (error.empty()) error = "dead-letter topic did not acknowledge every message";
  }
  return delivered < pending.size() ? error : "";
}

bool PreparedBatch::deadLettersDelivered() const {
  for (const DeadLetter& letter : dead_letters) {
    if (!letter.delivered) return false;
  }
  return true;
}

ApplyCounts BatchApplier::commit(Store& store, const PreparedBatch& batch) {
  // The offset moves past a bad message only once its dead letter is durable.
  if (!batch.deadLettersDelivered()) throw std::logic_error("batch committed before its dead letters were delivered");
  auto started = std::chrono::steady_clock::now();
  ApplyCounts counts;
  try {
    counts = store.applyBatch(batch.events, batch.offsets);
  } catch (const StoreError&) {
    metrics_.db_errors.Increment();
    throw;
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  metrics_.apply_batch_seconds.Observe(took.count());

  std::int64_t now_ms = nowMillis();
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (counts.outcomes[i] != ApplyOutcome::Applied) continue;
    double staleness = static_cast<double>(now_ms - batch.events[i].source_ts_ms) / 1000.0;
    topic_metrics_.staleness.Observe(std::max(0.0, staleness));
  }
  for (int op = 0; op < 4; ++op) {
    if (counts.applied[op] > 0) topic_metrics_.applied[op]->Increment(static_cast<double>(counts.applied[op]));
  }
  if (counts.stale > 0) topic_metrics_.ignored_stale.Increment(static_cast<double>(counts.stale));
  if (counts.missing_row > 0) {
    topic_metrics_.ignored_missing_row.Increment(static_cast<double>(counts.missing_row));
    logEvent(LogLevel::Warn, "update_of_missing_row",
             {{"topic", topic_.name}, {"count", counts.missing_row}});
  }
  if (counts.deleted_row > 0) {
    topic_metrics_.ignored_deleted_row.Increment(static_cast<double>(counts.deleted_row));
  }
  return counts;
}

}  // namespace leafsync
