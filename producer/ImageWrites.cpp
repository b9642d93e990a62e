#include "ImageWrites.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "leafsync/ByteEncoding.h"
#include "leafsync/ImageValidation.h"

namespace leafsync {
namespace {

using json = nlohmann::json;

RequestError invalid(const std::string& detail) { return RequestError{422, detail}; }

std::variant<json, RequestError> parseObject(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) return RequestError{400, "body is not valid JSON"};
  if (!j.is_object()) return RequestError{400, "body must be a JSON object"};
  return j;
}

// An integer as JSON Schema (and the seed's pydantic models) read one: 7 or 7.0, within int64.
std::optional<std::int64_t> integerOf(const json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    // 2^63 itself is out of range; every double below it converts exactly.
    if (std::isfinite(d) && std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

// Each reader returns an empty string when the field is valid and stored, else the reason.
std::string readCameraId(const json& j, std::int64_t& out) {
  auto value = integerOf(j.at("camera_id"));
  if (!value || *value < 0) return "field 'camera_id' must be a non-negative integer";
  out = *value;
  return {};
}

std::string readGps(const json& j, double& lat, double& lon) {
  const json& v = j.at("gps_coordinates");
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
    return "field 'gps_coordinates' must be [latitude, longitude]";
  }
  lat = v[0].get<double>();
  lon = v[1].get<double>();
  return checkGps(lat, lon);
}

std::string readData(const json& j, std::string& out) {
  const json& v = j.at("data");
  if (!v.is_string()) return "field 'data' must be a hex string";
  auto bytes = hexDecode(v.get<std::string>());
  if (!bytes) return "field 'data' must be a hex string";
  out = std::move(*bytes);
  return {};
}

}  // namespace

std::variant<NewImage, RequestError> parseCreateRequest(std::string_view body) {
  auto parsed = parseObject(body);
  if (auto* error = std::get_if<RequestError>(&parsed)) return *error;
  const json& j = std::get<json>(parsed);
  NewImage image;
  for (const char* required : {"camera_id", "gps_coordinates"}) {
    if (!j.contains(required)) return invalid(std::string("field '") + required + "' is required");
  }
  std::string error = readCameraId(j, image.camera_id);
  if (error.empty()) error = readGps(j, image.latitude, image.longitude);
  if (error.empty() && j.contains("data")) error = readData(j, image.data);
  if (!error.empty()) return invalid(error);
  return image;
}

std::variant<ImageChange, RequestError> parseUpdateRequest(std::string_view body) {
  auto parsed = parseObject(body);
  if (auto* error = std::get_if<RequestError>(&parsed)) return *error;
  const json& j = std::get<json>(parsed);
  ImageChange change;
  if (!j.contains("id")) return invalid("field 'id' is required");
  auto id = integerOf(j["id"]);
  if (!id || *id < 1) return invalid("field 'id' must be a positive integer");
  change.id = *id;
  ImageRecord& v = change.values;
  std::string error;
  if (j.contains("camera_id")) {
    change.fields |= kCameraId;
    error = readCameraId(j, v.camera_id);
  }
  if (error.empty() && j.contains("gps_coordinates")) {
    change.fields |= kGps;
    error = readGps(j, v.latitude, v.longitude);
  }
  if (error.empty() && j.contains("data")) {
    change.fields |= kData;
    error = readData(j, v.data);
  }
  for (const char* flag : {"is_active", "is_deleted"}) {
    if (!error.empty() || !j.contains(flag)) continue;
    if (!j[flag].is_boolean()) {
      error = std::string("field '") + flag + "' must be true or false";
      continue;
    }
    bool value = j[flag].get<bool>();
    if (std::string_view(flag) == "is_active") {
      change.fields |= kIsActive;
      v.is_active = value;
    } else {
      change.fields |= kIsDeleted;
      v.is_deleted = value;
    }
  }
  if (error.empty() && j.contains("disease")) {
    change.fields |= kDisease;
    if (j["disease"].is_string()) {
      v.disease = j["disease"].get<std::string>();
      error = checkDisease(*v.disease);
    } else if (!j["disease"].is_null()) {
      error = "field 'disease' must be a string or null";
    }
  }
  if (error.empty() && j.contains("percentage")) {
    change.fields |= kPercentage;
    if (j["percentage"].is_number()) {
      v.percentage = j["percentage"].get<double>();
      error = checkPercentage(*v.percentage);
    } else if (!j["percentage"].is_null()) {
      error = "field 'percentage' must be a number or null";
    }
  }
  if (!error.empty()) return invalid(error);
  return change;
}

}  // namespace leafsync
