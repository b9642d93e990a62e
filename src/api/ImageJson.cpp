#include "leafsync/ImageJson.h"

#include <nlohmann/json.hpp>

#include "leafsync/ByteEncoding.h"

namespace leafsync {

ImageJsonParts imageJsonParts(const ImageRecord& image) {
  // Ordered as in the seed's responses: id, camera_id, data, then the rest.
  nlohmann::ordered_json before = {{"id", image.id}, {"camera_id", image.camera_id}};
  nlohmann::ordered_json after = {
      {"gps_coordinates", {image.latitude, image.longitude}},
      {"created_at", image.created_at},
      {"updated_at", image.updated_at},
      {"is_active", image.is_active},
      {"is_deleted", image.is_deleted},
      {"disease", image.disease ? nlohmann::ordered_json(*image.disease) : nullptr},
      {"percentage", image.percentage ? nlohmann::ordered_json(*image.percentage) : nullptr},
  };
  ImageJsonParts parts{before.dump(), after.dump()};
  parts.head.back() = ',';  // {"id":1,"camera_id":2}  ->  {"id":1,"camera_id":2,"data":"
  parts.head += "\"data\":\"";
  parts.tail.front() = ',';  // {"gps_coordinates":...}  ->  ","gps_coordinates":...}
  parts.tail.insert(0, "\"");
  return parts;
}

std::string imageJson(const ImageRecord& image) {
  ImageJsonParts parts = imageJsonParts(image);
  return parts.head + hexEncode(image.data) + parts.tail;
}

}  // namespace leafsync
