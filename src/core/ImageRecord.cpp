#include "leafsync/ImageRecord.h"

#include <tuple>

namespace leafsync {

bool ImageRecord::operator==(const ImageRecord& o) const {
  return std::tie(id, camera_id, data, latitude, longitude, created_at, updated_at, is_active,
                  is_deleted, disease, percentage, version) ==
         std::tie(o.id, o.camera_id, o.data, o.latitude, o.longitude, o.created_at, o.updated_at,
                  o.is_active, o.is_deleted, o.disease, o.percentage, o.version);
}

}  // namespace leafsync
