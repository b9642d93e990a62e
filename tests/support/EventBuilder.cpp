#include "support/EventBuilder.h"

#include "leafsync/EventCodec.h"
#include "leafsync/Timestamp.h"

namespace leafsync::testing {

EventBuilder::EventBuilder(Op op, std::int64_t id, std::int64_t version, Plant plant) {
  event_.op = op;
  event_.plant = plant;
  event_.source_ts_ms = nowMillis();
  event_.image.id = id;
  event_.image.version = version;
  if (op == Op::Create || op == Op::Snapshot) {
    event_.fields = kAllFields;
    event_.image.camera_id = 1;
    event_.image.data = "\xff\xd8\xff\xe0 image " + std::to_string(id);
    event_.image.latitude = 48.476563;
    event_.image.longitude = 16.585654;
    event_.image.created_at = "2023-10-08T15:39:49.123123";
    event_.image.updated_at = "2023-10-08T15:39:49.123123";
  }
}

EventBuilder EventBuilder::create(std::int64_t id, std::int64_t version, Plant plant) {
  return EventBuilder(Op::Create, id, version, plant);
}
EventBuilder EventBuilder::snapshot(std::int64_t id, std::int64_t version, Plant plant) {
  return EventBuilder(Op::Snapshot, id, version, plant);
}
EventBuilder EventBuilder::update(std::int64_t id, std::int64_t version, Plant plant) {
  return EventBuilder(Op::Update, id, version, plant);
}
EventBuilder EventBuilder::remove(std::int64_t id, std::int64_t version, Plant plant) {
  return EventBuilder(Op::Delete, id, version, plant);
}

EventBuilder& EventBuilder::camera(std::int64_t v) {
  event_.image.camera_id = v;
  event_.fields |= kCameraId;
  return *this;
}
EventBuilder& EventBuilder::data(std::string v) {
  event_.image.data = std::move(v);
  event_.fields |= kData;
  return *this;
}
EventBuilder& EventBuilder::gps(double lat, double lon) {
  event_.image.latitude = lat;
  event_.image.longitude = lon;
  event_.fields |= kGps;
  return *this;
}
EventBuilder& EventBuilder::updatedAt(std::string v) {
  event_.image.updated_at = std::move(v);
  event_.fields |= kUpdatedAt;
  return *this;
}
EventBuilder& EventBuilder::active(bool v) {
  event_.image.is_active = v;
  event_.fields |= kIsActive;
  return *this;
}
EventBuilder& EventBuilder::softDeleted(bool v) {
  event_.image.is_deleted = v;
  event_.fields |= kIsDeleted;
  return *this;
}
EventBuilder& EventBuilder::disease(std::optional<std::string> v) {
  event_.image.disease = std::move(v);
  event_.fields |= kDisease;
  return *this;
}
EventBuilder& EventBuilder::percentage(std::optional<double> v) {
  event_.image.percentage = v;
  event_.fields |= kPercentage;
  return *this;
}
EventBuilder& EventBuilder::sourceTime(std::int64_t ts_ms) {
  event_.source_ts_ms = ts_ms;
  return *this;
}

std::string EventBuilder::json() const { return EventCodec::encode(event_); }

}  // namespace leafsync::testing
