#include "leafsync/EventCodec.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "leafsync/ByteEncoding.h"
#include "leafsync/DecodeSupport.h"
#include "leafsync/ImageValidation.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

struct EventCodec::Parser {
  simdjson::dom::parser dom;
};

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string fieldError(std::string_view field, std::string_view what) {
  return "field '" + std::string(field) + "' " + std::string(what);
}

bool readInt(element value, std::int64_t& out) {
  if (value.type() == element_type::INT64) return value.get_int64().get(out) == simdjson::SUCCESS;
  if (value.type() == element_type::UINT64) {
    std::uint64_t u = 0;
    if (value.get_uint64().get(u) != simdjson::SUCCESS || u > INT64_MAX) return false;
    out = static_cast<std::int64_t>(u);
    return true;
  }
  return false;
}

bool readNumber(element value, double& out) {
  switch (value.type()) {
    case element_type::DOUBLE:
      return value.get_double().get(out) == simdjson::SUCCESS;
    case element_type::INT64:
    case element_type::UINT64: {
      std::int64_t i = 0;
      if (!readInt(value, i)) return false;
      out = static_cast<double>(i);
      return true;
    }
    default:
      return false;
  }
}

// Reads one image field into `image`; returns an empty string or the reason it is invalid.
std::string readField(std::string_view name, element value, ImageRecord& image,
                      std::uint32_t& fields) {
  auto expect = [&](bool ok, std::string_view what) {
    return ok ? std::string() : fieldError(name, what);
  };
  if (name == "camera_id") {
    fields |= kCameraId;
    return expect(readInt(value, image.camera_id) && image.camera_id >= 0,
                  "must be a non-negative integer");
  }
  if (name == "data") {
    fields |= kData;
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return fieldError(name, "must be a base64 string");
    auto bytes = base64Decode(text);
    if (!bytes) return fieldError(name, "is not valid base64");
    image.data = std::move(*bytes);
    return {};
  }
  if (name == "gps_coordinates") {
    fields |= kGps;
    simdjson::dom::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS || array.size() != 2 ||
        !readNumber(array.at(0).value_unsafe(), image.latitude) ||
        !readNumber(array.at(1).value_unsafe(), image.longitude)) {
      return fieldError(name, "must be [latitude, longitude]");
    }
    return checkGps(image.latitude, image.longitude);
  }
  if (name == "created_at" || name == "updated_at") {
    std::string_view text;
    bool ok = value.get_string().get(text) == simdjson::SUCCESS && isIsoTimestamp(text);
    if (name == "created_at") {
      fields |= kCreatedAt;
      image.created_at = std::string(text);
    } else {
      fields |= kUpdatedAt;
      image.updated_at = std::string(text);
    }
    return expect(ok, "must be an ISO-8601 timestamp");
  }
  if (name == "is_active" || name == "is_deleted") {
    bool flag = false;
    bool ok = value.get_bool().get(flag) == simdjson::SUCCESS;
    if (name == "is_active") {
      fields |= kIsActive;
      image.is_active = flag;
    } else {
      fields |= kIsDeleted;
      image.is_deleted = flag;
    }
    return expect(ok, "must be true or false");
  }
  if (name == "disease") {
    fields |= kDisease;
    if (value.is_null()) {
      image.disease.reset();
      return {};
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return fieldError(name, "must be a string or null");
    image.disease = std::string(text);
    return checkDisease(*image.disease);
  }
  if (name == "percentage") {
    fields |= kPercentage;
    if (value.is_null()) {
      image.percentage.reset();
      return {};
    }
    double pct = 0;
    if (!readNumber(value, pct)) return fieldError(name, "must be a number or null");
    image.percentage = pct;
    return checkPercentage(pct);
  }
  return "unknown field '" + echo(name) + "'";
}

// `ts_ms`: the source's commit time, shown as last_event_at and used for staleness.
std::string readSourceTime(simdjson::dom::object root, std::int64_t& out) {
  element value;
  if (root["ts_ms"].get(value) != simdjson::SUCCESS || !readInt(value, out) || out < 0) {
    return "'ts_ms' must be a non-negative integer";
  }
  if (!isEpochMillisInRange(out)) {
    return "'ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z";
  }
  return {};
}

std::optional<Op> parseOp(std::string_view text) {
  if (text == "c") return Op::Create;
  if (text == "u") return Op::Update;
  if (text == "d") return Op::Delete;
  if (text == "r") return Op::Snapshot;
  return std::nullopt;
}

}  // namespace

EventCodec::EventCodec() : parser_(std::make_unique<Parser>()) {}
EventCodec::~EventCodec() = default;

DecodeResult EventCodec::decode(std::string_view key, std::string_view value) {
  if (value.empty()) return DecodeError{"empty value"};
  element doc;
  if (auto err = parser_->dom.parse(value.data(), value.size()).get(doc)) {
    return DecodeError{std::string("malformed JSON: ") + simdjson::error_message(err)};
  }
  if (std::string key = duplicateKey(doc); !key.empty()) {
    return DecodeError{"duplicate key '" + echo(key) + "'"};
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return DecodeError{"value is not a JSON object"};

  ChangeEvent event;
  std::string_view text;
  element value_of;
  if (root["op"].get(value_of) != simdjson::SUCCESS || value_of.get_string().get(text) != simdjson::SUCCESS) {
    return DecodeError{"missing 'op'"};
  }
  bool is_marker = text == "s";
  auto op = parseOp(text);
  if (!op && !is_marker) return DecodeError{"unknown op '" + echo(text) + "' (expected c, u, d, r or s)"};
  if (op) event.op = *op;

  if (root["plant"].get(value_of) != simdjson::SUCCESS || value_of.get_string().get(text) != simdjson::SUCCESS) {
    return DecodeError{"missing 'plant'"};
  }
  auto plant = parsePlant(text);
  if (!plant) return DecodeError{"unknown plant '" + echo(text) + "'"};
  event.plant = *plant;

  if (is_marker) {
    SnapshotMarker marker;
    marker.plant = event.plant;
    if (root["rows"].get(value_of) != simdjson::SUCCESS || !readInt(value_of, marker.rows) || marker.rows < 0) {
      return DecodeError{"'rows' must be a non-negative integer"};
    }
    if (std::string error = readSourceTime(root, marker.source_ts_ms); !error.empty()) {
      return DecodeError{std::move(error)};
    }
    if (key != kSnapshotMarkerKey) return DecodeError{std::string("a snapshot marker's key must be '") + kSnapshotMarkerKey + "'"};
    return marker;
  }
  if (root["id"].get(value_of) != simdjson::SUCCESS || !readInt(value_of, event.image.id) ||
      event.image.id < 1) {
    return DecodeError{"'id' must be a positive integer"};
  }
  if (root["version"].get(value_of) != simdjson::SUCCESS ||
      !readInt(value_of, event.image.version) || event.image.version < 1) {
    return DecodeError{"'version' must be a positive integer"};
  }
  if (std::string error = readSourceTime(root, event.source_ts_ms); !error.empty()) {
    return DecodeError{std::move(error)};
  }
  if (key.empty()) return DecodeError{"missing message key (must be the image id)"};
  std::int64_t key_id = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), key_id);
  if (ec != std::errc() || end != key.data() + key.size() || key_id != event.image.id) {
    return DecodeError{"message key '" + echo(key) + "' does not match id " +
                       std::to_string(event.image.id)};
  }

  if (event.op == Op::Delete) return event;

  simdjson::dom::object fields;
  if (root["fields"].get(value_of) != simdjson::SUCCESS || value_of.get_object().get(fields) != simdjson::SUCCESS) {
    return DecodeError{"missing 'fields' object"};
  }
  for (auto [name, field_value] : fields) {
    std::string error = readField(name, field_value, event.image, event.fields);
    if (!error.empty()) return DecodeError{std::move(error)};
  }
  if (event.carriesFullState()) {
    constexpr std::uint32_t kRequired = kCameraId | kGps | kCreatedAt | kUpdatedAt;
    if ((event.fields & kRequired) != kRequired) {
      return DecodeError{"a create or snapshot needs camera_id, gps_coordinates, created_at and updated_at"};
    }
    event.fields = kAllFields;  // absent optional fields take their defaults
  } else if (event.fields == 0) {
    return DecodeError{"an update must change at least one field"};
  }
  return event;
}

std::string EventCodec::encodeKey(std::int64_t id) { return std::to_string(id); }

std::string EventCodec::encodeMarker(const SnapshotMarker& marker) {
  nlohmann::json j = {{"op", "s"}, {"plant", plantName(marker.plant)}, {"rows", marker.rows}, {"ts_ms", marker.source_ts_ms}};
  return j.dump();
}

std::string EventCodec::encode(const ChangeEvent& event) {
  static constexpr const char* kOpCodes[] = {"c", "u", "d", "r"};
  nlohmann::json j;
  j["op"] = kOpCodes[static_cast<int>(event.op)];
  j["plant"] = plantName(event.plant);
  j["id"] = event.image.id;
  j["version"] = event.image.version;
  j["ts_ms"] = event.source_ts_ms;
  if (event.op != Op::Delete) {
    const ImageRecord& image = event.image;
    std::uint32_t f = event.carriesFullState() ? kAllFields : event.fields;
    nlohmann::json fields = nlohmann::json::object();
    if (f & kCameraId) fields["camera_id"] = image.camera_id;
    if (f & kData) fields["data"] = base64Encode(image.data);
    if (f & kGps) fields["gps_coordinates"] = {image.latitude, image.longitude};
    if (f & kCreatedAt) fields["created_at"] = image.created_at;
    if (f & kUpdatedAt) fields["updated_at"] = image.updated_at;
    if (f & kIsActive) fields["is_active"] = image.is_active;
    if (f & kIsDeleted) fields["is_deleted"] = image.is_deleted;
    if (f & kDisease) fields["disease"] = image.disease ? nlohmann::json(*image.disease) : nullptr;
    if (f & kPercentage) {
      fields["percentage"] = image.percentage ? nlohmann::json(*image.percentage) : nullptr;
    }
    j["fields"] = std::move(fields);
  }
  return j.dump();
}

}  // namespace leafsync
