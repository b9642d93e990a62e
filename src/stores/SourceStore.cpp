#include "leafsync/SourceStore.h"

namespace leafsync {

// The fields of `change` whose values differ from `row`.
std::uint32_t changedFields(const ImageRecord& row, const ImageChange& change) {
  const ImageRecord& v = change.values;
  std::uint32_t f = change.fields;
  std::uint32_t changed = 0;
  if ((f & kCameraId) && v.camera_id != row.camera_id) changed |= kCameraId;
  if ((f & kData) && v.data != row.data) changed |= kData;
  if ((f & kGps) && (v.latitude != row.latitude || v.longitude != row.longitude)) changed |= kGps;
  if ((f & kIsActive) && v.is_active != row.is_active) changed |= kIsActive;
  if ((f & kIsDeleted) && v.is_deleted != row.is_deleted) changed |= kIsDeleted;
  if ((f & kDisease) && v.disease != row.disease) changed |= kDisease;
  if ((f & kPercentage) && v.percentage != row.percentage) changed |= kPercentage;
  return changed;
}

ImageRecord withChange(ImageRecord r, const ImageChange& change, std::uint32_t changed, std::string updated_at) {
  const ImageRecord& v = change.values;
  if (changed & kCameraId) r.camera_id = v.camera_id;
  if (changed & kData) r.data = v.data;
  if (changed & kGps) {
    r.latitude = v.latitude;
    r.longitude = v.longitude;
  }
  if (changed & kIsActive) r.is_active = v.is_active;
  if (changed & kIsDeleted) r.is_deleted = v.is_deleted;
  if (changed & kDisease) r.disease = v.disease;
  if (changed & kPercentage) r.percentage = v.percentage;
  r.updated_at = std::move(updated_at);
  r.version += 1;
  return r;
}

ChangeEvent createdEvent(Plant plant, std::int64_t id, const NewImage& image, std::int64_t now_us, std::string now) {
  ChangeEvent event;
  event.op = Op::Create;
  event.plant = plant;
  event.source_ts_ms = now_us / 1000;
  event.fields = kAllFields;
  ImageRecord& r = event.image;
  r.id = id;
  r.camera_id = image.camera_id;
  r.data = image.data;
  r.latitude = image.latitude;
  r.longitude = image.longitude;
  r.created_at = now;
  r.updated_at = std::move(now);
  r.version = 1;
  return event;
}

}  // namespace leafsync
