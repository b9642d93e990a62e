#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "leafsync/ChangeEvent.h"
#include "leafsync/Store.h"

namespace leafsync {

// A new image as the image-api receives it.
struct NewImage {
  std::int64_t camera_id = 0;
  std::string data;  // raw bytes
  double latitude = 0;
  double longitude = 0;
};

// A partial change: only the fields present in `fields` (Field bits) are changed.
struct ImageChange {
  std::int64_t id = 0;
  std::uint32_t fields = 0;
  ImageRecord values;
};

// The fields of `change` whose values differ from `row` (Field bits).
std::uint32_t changedFields(const ImageRecord& row, const ImageChange& change);

// `row` with the `changed` fields taken from `change`, stamped `updated_at`, one version on.
ImageRecord withChange(ImageRecord row, const ImageChange& change, std::uint32_t changed, std::string updated_at);

// The event of a new image: `image` stored as `id` at `now` (`now_us` as ISO text), version 1,
// every field set. Both source stores queue it with the insert.
ChangeEvent createdEvent(Plant plant, std::int64_t id, const NewImage& image, std::int64_t now_us, std::string now);

// A change event waiting in the outbox to be published.
struct OutboxEntry {
  std::int64_t seq = 0;
  Plant plant = Plant::Potato;
  std::int64_t image_id = 0;
  std::string value;  // the encoded event
  std::int64_t created_ms = 0;  // when the change committed
};

// The source database (producer_plant_db). Every write commits the row and its change event
// (in the outbox table) in one transaction, so an event exists if and only if its change does.
// One instance per thread, like Store.
class SourceStore : public ImageReader {
 public:

  // Ids are sequential per plant from 1 and never reused.
  virtual ImageRecord create(Plant plant, const NewImage& image) = 0;
  // Applies the fields that differ from the row; no event when nothing changed.
  // Returns the row after the change, or nothing when the image does not exist.
  virtual std::optional<ImageRecord> update(Plant plant, const ImageChange& change) = 0;
  // Returns the delete's version, or nothing when the image does not exist.
  virtual std::optional<std::int64_t> remove(Plant plant, std::int64_t id) = 0;

  // Queues a snapshot event (op r: the row's full state and current version) for up to `limit`
  // rows with id > after_id, reading and queueing in one transaction so that every later
  // change of those rows is queued after them. Returns the ids queued, ascending.
  virtual std::vector<std::int64_t> enqueueSnapshot(Plant plant, std::int64_t after_id, int limit) = 0;
  // Queues the end-of-snapshot marker of a plant (published to every partition).
  virtual void enqueueSnapshotEnd(Plant plant, std::int64_t rows) = 0;

  // The oldest unpublished events with seq > after_seq, in commit order. A marker has
  // image_id 0. after_seq lets a relay read past what it has sent and not yet deleted.
  virtual std::vector<OutboxEntry> pendingEventsAfter(std::int64_t after_seq, std::size_t max) = 0;
  std::vector<OutboxEntry> pendingEvents(std::size_t max) { return pendingEventsAfter(0, max); }
  // Removes published events (every seq ≤ up_to).
  virtual void markPublished(std::int64_t up_to_seq) = 0;
  virtual std::int64_t pendingCount() = 0;
};

}  // namespace leafsync
