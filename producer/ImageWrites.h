#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "leafsync/SourceStore.h"

namespace leafsync {

// Why a write request was refused: HTTP status and a detail naming the field.
struct RequestError {
  int status = 422;
  std::string detail;
};

// The image-api's request bodies, validated. Pure: text in, a value or an error out.
//   PUT  {"camera_id": int, "gps_coordinates": [lat, lon], "data": "<hex>" (optional)}
//   POST {"id": int, and any of camera_id, gps_coordinates, data, disease, percentage,
//         is_active, is_deleted}
// Malformed JSON → 400; missing fields, wrong types, values out of range → 422.
// Fields the API does not know are ignored, as the seed's FastAPI service does.
std::variant<NewImage, RequestError> parseCreateRequest(std::string_view body);
std::variant<ImageChange, RequestError> parseUpdateRequest(std::string_view body);

}  // namespace leafsync
