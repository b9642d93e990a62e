#include "leafsync/DebeziumCodec.h"

#include <charconv>
#include <cstring>
#include <cstdint>
#include <limits>
#include <simdjson.h>

#include "leafsync/ByteEncoding.h"
#include "leafsync/DecodeSupport.h"
#include "leafsync/ImageValidation.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

namespace {

using simdjson::SUCCESS;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// A delete whose `before` carries no version (REPLICA IDENTITY DEFAULT): ids are never reused at
// the source, so the delete is the last change the id will ever have and must beat every version.
constexpr std::int64_t kLastVersion = std::numeric_limits<std::int64_t>::max();

// What Debezium puts in a column whose value it does not have: an unchanged TOASTed column of an
// UPDATE under REPLICA IDENTITY DEFAULT (connector option `unavailable.value.placeholder`).
constexpr std::string_view kUnavailablePlaceholder = "__debezium_unavailable_value";

std::string columnError(std::string_view column, std::string_view what) {
  return "column '" + std::string(column) + "' " + std::string(what);
}

bool readInt(element value, std::int64_t& out) {
  if (value.type() == element_type::INT64) return value.get_int64().get(out) == SUCCESS;
  if (value.type() == element_type::UINT64) {
    std::uint64_t u = 0;
    if (value.get_uint64().get(u) != SUCCESS || u > INT64_MAX) return false;
    out = static_cast<std::int64_t>(u);
    return true;
  }
  return false;
}

bool readNumber(element value, double& out) {
  switch (value.type()) {
    case element_type::DOUBLE:
      return value.get_double().get(out) == SUCCESS;
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

// The member `key` of `o` if present and not null.
bool member(object o, std::string_view key, element& out) {
  return o[key].get(out) == SUCCESS && !out.is_null();
}

std::string_view stringMember(object o, std::string_view key) {
  std::string_view text;
  if (o[key].get_string().get(text) != SUCCESS) return {};
  return text;
}

// The schema of one column, copied out of the document so that it outlives the parse.
struct ColumnSchema {
  bool present = false;
  std::string name;  // the logical type, e.g. io.debezium.time.MicroTimestamp
  std::string type;  // the JSON converter's type, e.g. int64
};

// The JSON converter's schema of one row struct ("after"), when the value carries schemas: only
// the columns whose decoding depends on it, resolved once (and, with SchemaFrame, once per
// distinct schema rather than per message).
class RowSchema {
 public:
  RowSchema() = default;
  explicit RowSchema(array fields) : present_(true) {
    for (element field : fields) {
      object o;
      if (field.get_object().get(o) != SUCCESS) continue;
      ColumnSchema* column = slot(stringMember(o, "field"));
      if (column == nullptr || column->present) continue;  // the first description counts
      column->present = true;
      column->name = std::string(stringMember(o, "name"));
      column->type = std::string(stringMember(o, "type"));
    }
  }

  bool present() const { return present_; }

  // The schema of one column read by schema; nullptr when the envelope's schema does not
  // describe it.
  const ColumnSchema* column(std::string_view name) const {
    const ColumnSchema* c = const_cast<RowSchema*>(this)->slot(name);
    return c != nullptr && c->present ? c : nullptr;
  }

 private:
  ColumnSchema* slot(std::string_view name) {
    if (name == "data") return &data_;
    if (name == "created_at") return &created_at_;
    if (name == "updated_at") return &updated_at_;
    return nullptr;
  }

  bool present_ = false;
  ColumnSchema data_, created_at_, updated_at_;
};

// Finds the struct schema of envelope field `name` in an Envelope schema.
bool rowSchema(object envelope_schema, std::string_view name, RowSchema& out) {
  array fields;
  if (envelope_schema["fields"].get_array().get(fields) != SUCCESS) return false;
  for (element field : fields) {
    object o;
    array columns;
    if (field.get_object().get(o) == SUCCESS && stringMember(o, "field") == name &&
        o["fields"].get_array().get(columns) == SUCCESS) {
      out = RowSchema(columns);
      return true;
    }
  }
  return false;
}

// Whether `text` is exactly one JSON object and nothing after it, for text cut out of a
// document the parser has already validated: its braces and brackets, outside strings, close
// at its last byte and not before.
bool isOneObject(std::string_view text) {
  if (text.empty() || text.front() != '{') return false;
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1 == text.size();
    }
  }
  return false;
}

// The JSON converter with schemas.enable=true frames every message as {"schema":S,"payload":P},
// and S is the same bytes for every message of a table: most of a message that carries no
// image, and more tape and keys to check than the row itself. So the parser remembers the last
// S it validated (duplicate keys included) and, for a message that starts with the same bytes,
// parses only P: the message is then valid JSON exactly when P is, and its top-level keys are
// the two of the frame. Anything else -- another schema, whitespace, other key order -- and any
// P that does not parse takes the whole-document path, which gives the reasons.
class SchemaFrame {
 public:
  // P, when `json` is the frame around the remembered schema.
  bool payloadIfSame(std::string_view json, std::string_view& payload) const {
    if (schema_.empty()) return false;
    const std::size_t start = kOpen.size() + schema_.size() + kPayloadKey.size();
    if (json.size() <= start || json.back() != '}' || json.substr(0, kOpen.size()) != kOpen ||
        json.substr(kOpen.size(), schema_.size()) != schema_ ||
        json.substr(kOpen.size() + schema_.size(), kPayloadKey.size()) != kPayloadKey) {
      return false;
    }
    payload = json.substr(start, json.size() - start - 1);
    return true;
  }

  // Remembers the schema of `json`, a document the parser accepted (no duplicate keys) whose
  // root object holds exactly "schema" (an object) and "payload", when it has the frame's
  // bytes; otherwise forgets.
  void remember(std::string_view json) {
    schema_.clear();
    if (json.substr(0, kOpen.size()) != kOpen || json.back() != '}') return;
    // The first `,"payload":` outside a string is a key; the schema's braces tell whether
    // it is the root's.
    const std::size_t end = json.find(kPayloadKey, kOpen.size());
    if (end == std::string_view::npos) return;
    std::string_view schema = json.substr(kOpen.size(), end - kOpen.size());
    if (isOneObject(schema)) schema_ = std::string(schema);
  }

  bool empty() const { return schema_.empty(); }

 private:
  static constexpr std::string_view kOpen = "{\"schema\":";
  static constexpr std::string_view kPayloadKey = ",\"payload\":";
  std::string schema_;
};

}  // namespace

struct DebeziumCodec::Parser {
  simdjson::dom::parser dom;
  std::string buffer;  // the message being parsed, padded
  SchemaFrame value_frame;
  RowSchema value_schema;  // the row schema of value_frame's schema
  SchemaFrame key_frame;
};

namespace {

enum class TimeForm { Micros, Millis, Iso };

// Debezium's temporal representations of timestamp columns, converted to our ISO format.
std::string readTimestamp(std::string_view column, element value, const RowSchema& schema,
                          std::string& out) {
  TimeForm form = TimeForm::Micros;
  if (schema.present()) {
    const ColumnSchema* field = schema.column(column);
    if (field == nullptr) return columnError(column, "has no schema in the envelope");
    std::string_view name = field->name;
    if (name == "io.debezium.time.MicroTimestamp") {
      form = TimeForm::Micros;
    } else if (name == "io.debezium.time.Timestamp" ||
               name == "org.apache.kafka.connect.data.Timestamp") {
      form = TimeForm::Millis;
    } else if (name == "io.debezium.time.ZonedTimestamp") {
      form = TimeForm::Iso;
    } else {
      std::string got = name.empty() ? "type '" + echo(field->type) + "'"
                                     : "'" + echo(name) + "'";
      return columnError(column, "has schema " + got +
                                     ", not a timestamp (expected io.debezium.time.MicroTimestamp, "
                                     "io.debezium.time.Timestamp, io.debezium.time.ZonedTimestamp "
                                     "or org.apache.kafka.connect.data.Timestamp)");
    }
  } else if (value.is_string()) {
    form = TimeForm::Iso;  // ZonedTimestamp (timestamptz)
  }
  // else: an integer without a schema is MicroTimestamp, what timestamp(6) columns produce.

  if (form == TimeForm::Iso) {
    std::string_view text;
    if (value.get_string().get(text) != SUCCESS || !isIsoTimestamp(text)) {
      return columnError(column, "must be an ISO-8601 timestamp string");
    }
    out = std::string(text);
    return {};
  }
  std::int64_t n = 0;
  if (!readInt(value, n)) {
    return columnError(column, form == TimeForm::Micros
                                   ? "must be an integer (microseconds since the epoch)"
                                   : "must be an integer (milliseconds since the epoch)");
  }
  if (n < 0) return columnError(column, "is before 1970-01-01, which is not supported");
  if (form == TimeForm::Millis) {
    if (n > INT64_MAX / 1000) return columnError(column, "is out of range");
    n *= 1000;
  }
  out = isoTimestamp(n);
  if (!isIsoTimestamp(out)) return columnError(column, "is out of range (after year 9999)");
  return {};
}

// bytea: base64 text (binary.handling.mode=bytes with the JSON converter).
std::string readData(element value, const RowSchema& schema, std::string& out, bool& unavailable) {
  if (schema.present()) {
    const ColumnSchema* field = schema.column("data");
    if (field == nullptr) return columnError("data", "has no schema in the envelope");
    std::string_view type = field->type;
    if (type != "bytes") {
      return columnError("data", "must have schema type 'bytes' (binary.handling.mode=bytes), not '" +
                                     echo(type) + "'");
    }
  }
  std::string_view text;
  if (value.get_string().get(text) != SUCCESS) return columnError("data", "must be a base64 string");
  auto bytes = base64Decode(text);
  if (!bytes) return columnError("data", "is not valid base64");
  unavailable = *bytes == kUnavailablePlaceholder;
  out = std::move(*bytes);
  return {};
}

// Reads every column we copy from a row (`after`); other columns are ignored.
std::string readRow(object row, const RowSchema& schema, ImageRecord& image, bool& data_unavailable) {
  element v;
  auto present = [&](std::string_view column) { return row[column].get(v) == SUCCESS; };
  auto missing = [](std::string_view column) { return columnError(column, "is missing from 'after'"); };
  std::string error;

  if (!present("id")) return missing("id");
  if (!readInt(v, image.id) || image.id < 1) return columnError("id", "must be a positive integer");

  if (!present("camera_id")) return missing("camera_id");
  if (!readInt(v, image.camera_id) || image.camera_id < 0) {
    return columnError("camera_id", "must be a non-negative integer");
  }

  if (!present("data")) return missing("data");
  if (!(error = readData(v, schema, image.data, data_unavailable)).empty()) return error;

  if (!present("latitude")) return missing("latitude");
  if (!readNumber(v, image.latitude)) return columnError("latitude", "must be a number");
  if (!present("longitude")) return missing("longitude");
  if (!readNumber(v, image.longitude)) return columnError("longitude", "must be a number");
  if (!(error = checkGps(image.latitude, image.longitude)).empty()) return error;

  if (!present("created_at")) return missing("created_at");
  if (!(error = readTimestamp("created_at", v, schema, image.created_at)).empty()) return error;
  if (!present("updated_at")) return missing("updated_at");
  if (!(error = readTimestamp("updated_at", v, schema, image.updated_at)).empty()) return error;

  if (!present("is_active")) return missing("is_active");
  if (v.get_bool().get(image.is_active) != SUCCESS) return columnError("is_active", "must be true or false");
  if (!present("is_deleted")) return missing("is_deleted");
  if (v.get_bool().get(image.is_deleted) != SUCCESS) return columnError("is_deleted", "must be true or false");

  if (!present("disease")) return missing("disease");
  if (v.is_null()) {
    image.disease.reset();
  } else {
    std::string_view text;
    if (v.get_string().get(text) != SUCCESS) return columnError("disease", "must be a string or null");
    image.disease = std::string(text);
    if (!(error = checkDisease(*image.disease)).empty()) return error;
  }

  if (!present("percentage")) return missing("percentage");
  if (v.is_null()) {
    image.percentage.reset();
  } else {
    double pct = 0;
    if (!readNumber(v, pct)) return columnError("percentage", "must be a number or null");
    image.percentage = pct;
    if (!(error = checkPercentage(pct)).empty()) return error;
  }

  if (!present("version")) return missing("version");
  if (!readInt(v, image.version) || image.version < 1) {
    return columnError("version", "must be a positive integer");
  }
  return {};
}

// Parses `json` from `buffer`, reused, which carries the padding simdjson reads past the end
// (parse(data, size) allocates a padded copy for every message).
simdjson::error_code parsePadded(simdjson::dom::parser& dom, std::string& buffer, std::string_view json,
                                 element& doc) {
  if (buffer.size() < json.size() + simdjson::SIMDJSON_PADDING) buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(buffer.data(), json.data(), json.size());
  return dom.parse(reinterpret_cast<const std::uint8_t*>(buffer.data()), json.size(), false).get(doc);
}

// Whether `o`, a document's root, is the JSON converter's frame: "schema" (an object) and
// "payload", nothing else.
bool isSchemaFrame(object o) {
  element schema;
  return o.size() == 2 && o["schema"].get(schema) == SUCCESS && schema.is_object() && o["payload"].error() == SUCCESS;
}

std::string keyIdOf(object o, std::int64_t& id) {
  element value;
  if (o["id"].get(value) != SUCCESS || !readInt(value, id) || id < 1) {
    return "message key has no positive integer 'id'";
  }
  return {};
}

// The image id of a message key: {"id":N}, {"schema":…,"payload":{"id":N}} or "N".
std::string readKeyId(simdjson::dom::parser& dom, std::string& buffer, SchemaFrame& frame, std::string_view key,
                      std::int64_t& id) {
  if (key.empty()) return "missing message key (must be the image id)";
  std::size_t first = key.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && key[first] == '{') {
    element doc;
    object o;
    std::string_view payload_text;
    if (frame.payloadIfSame(key, payload_text) && parsePadded(dom, buffer, payload_text, doc) == SUCCESS &&
        duplicateKey(doc).empty() && doc.get_object().get(o) == SUCCESS) {
      return keyIdOf(o, id);
    }
    if (auto err = parsePadded(dom, buffer, key, doc)) {
      return std::string("malformed message key: ") + simdjson::error_message(err);
    }
    if (std::string duplicate = duplicateKey(doc); !duplicate.empty()) {
      return "duplicate key '" + echo(duplicate) + "' in the message key";
    }
    if (doc.get_object().get(o) != SUCCESS) return "message key is not a JSON object";
    element payload;
    if (o["payload"].get(payload) == SUCCESS) {
      if (isSchemaFrame(o)) frame.remember(key);
      if (payload.get_object().get(o) != SUCCESS) return "message key's 'payload' is not an object";
    }
    return keyIdOf(o, id);
  }
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || end != key.data() + key.size() || id < 1) {
    return "message key '" + echo(key) + "' is not an image id";
  }
  return {};
}

std::string keyMismatch(std::int64_t key_id, std::int64_t row_id) {
  return "message key id " + std::to_string(key_id) + " does not match row id " +
         std::to_string(row_id);
}

// Whether a delete's `before` is the whole old row (REPLICA IDENTITY FULL) rather than the key
// padded with defaults (DEFAULT): padding puts created_at at 0 (or "").
bool isFullRow(object before) {
  element created_at;
  if (!member(before, "created_at", created_at)) return false;
  std::int64_t n = 0;
  if (readInt(created_at, n)) return n != 0;
  std::string_view text;
  return created_at.get_string().get(text) == SUCCESS && !text.empty();
}

// Decodes the envelope into `event`; a delete whose `before` has no id leaves image.id 0 for
// the key to fill. Returns an empty string or the reason. `frame` and `frame_schema` are the
// last schema seen and its row schema (SchemaFrame).
std::string decodeEnvelope(simdjson::dom::parser& dom, std::string& buffer, SchemaFrame& frame,
                           RowSchema& frame_schema, std::string_view value, ChangeEvent& event) {
  element doc;
  object envelope;
  RowSchema parsed_schema;
  const RowSchema* after_schema = &parsed_schema;
  std::string_view payload_text;
  if (frame.payloadIfSame(value, payload_text) && parsePadded(dom, buffer, payload_text, doc) == SUCCESS &&
      duplicateKey(doc).empty()) {
    // {"schema":<the last one>,"payload":…}
    if (doc.is_null()) return "not a change event: 'payload' is null";
    if (doc.get_object().get(envelope) != SUCCESS) return "'payload' is not an object";
    after_schema = &frame_schema;
  } else {
    if (auto err = parsePadded(dom, buffer, value, doc)) {
      return std::string("malformed JSON: ") + simdjson::error_message(err);
    }
    if (std::string key = duplicateKey(doc); !key.empty()) return "duplicate key '" + echo(key) + "'";
    if (doc.get_object().get(envelope) != SUCCESS) return "value is not a JSON object";

    // {"schema":…,"payload":…}: the JSON converter with schemas.enable=true.
    element payload;
    element schema;
    if (envelope["payload"].get(payload) == SUCCESS && envelope["schema"].get(schema) == SUCCESS) {
      const bool framed = isSchemaFrame(envelope);
      if (payload.is_null()) return "not a change event: 'payload' is null";
      if (payload.get_object().get(envelope) != SUCCESS) return "'payload' is not an object";
      object schema_object;
      if (schema.get_object().get(schema_object) == SUCCESS &&
          !rowSchema(schema_object, "after", parsed_schema)) {
        return "the envelope's schema does not describe 'after'";
      }
      if (framed && parsed_schema.present()) {
        frame.remember(value);
        frame_schema = std::move(parsed_schema);
        after_schema = &frame_schema;
      }
    }
  }

  element field;
  std::string_view op;
  if (!member(envelope, "op", field)) {
    return "not a change event: no 'op' (a heartbeat or transaction-metadata message?)";
  }
  if (field.get_string().get(op) != SUCCESS) return "'op' must be a string";
  if (op == "c") {
    event.op = Op::Create;
  } else if (op == "u") {
    event.op = Op::Update;
  } else if (op == "d") {
    event.op = Op::Delete;
  } else if (op == "r") {
    event.op = Op::Snapshot;
  } else if (op == "t") {
    return "unsupported op 't' (truncate); the connector skips truncates unless "
           "skipped.operations is changed";
  } else {
    return "unknown op '" + echo(op) + "' (expected c, u, d or r)";
  }

  // The commit time at the database; the envelope's ts_ms (when Debezium processed it) if absent.
  object source;
  if (member(envelope, "source", field) && field.get_object().get(source) == SUCCESS &&
      member(source, "ts_ms", field)) {
    if (!readInt(field, event.source_ts_ms) || event.source_ts_ms < 0) {
      return "'source.ts_ms' must be a non-negative integer";
    }
    if (!isEpochMillisInRange(event.source_ts_ms)) {
      return "'source.ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z";
    }
  } else if (member(envelope, "ts_ms", field)) {
    if (!readInt(field, event.source_ts_ms) || event.source_ts_ms < 0) {
      return "'ts_ms' must be a non-negative integer";
    }
    if (!isEpochMillisInRange(event.source_ts_ms)) {
      return "'ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z";
    }
  } else {
    return "missing 'source.ts_ms' and 'ts_ms'";
  }

  if (event.op == Op::Delete) {
    if (member(envelope, "after", field)) return "a delete must have 'after' null";
    event.image.id = 0;
    event.image.version = kLastVersion;
    object before;
    if (!member(envelope, "before", field)) return {};  // only the key identifies the row
    if (field.get_object().get(before) != SUCCESS) return "'before' must be an object or null";
    if (member(before, "id", field) && (!readInt(field, event.image.id) || event.image.id < 1)) {
      return "column 'id' in 'before' must be a positive integer";
    }
    // REPLICA IDENTITY FULL: `before` is the deleted row and its version is real. Under DEFAULT
    // only the key is real: Debezium pads every other NOT NULL column with the column's default,
    // else 0 -- so a `version bigint DEFAULT 1` would read 1 and lose to the row it deletes. A
    // full row is told apart by its created_at, which a real row never has at the epoch.
    if (!isFullRow(before)) return {};
    if (member(before, "version", field)) {
      std::int64_t version = 0;
      if (!readInt(field, version) || version < 1) {
        return "column 'version' in 'before' must be a positive integer";
      }
      event.image.version = version == kLastVersion ? kLastVersion : version + 1;
    }
    return {};
  }

  object after;
  if (!member(envelope, "after", field)) {
    return "'after' is null: op '" + std::string(op) + "' needs the row";
  }
  if (field.get_object().get(after) != SUCCESS) return "'after' must be an object";
  bool data_unavailable = false;
  if (std::string error = readRow(after, *after_schema, event.image, data_unavailable); !error.empty()) {
    return error;
  }
  // Debezium sends the whole row in `after`, updates included.
  event.fields = kAllFields;
  event.whole_row = true;
  if (data_unavailable) {
    if (event.op != Op::Update) {
      return "column 'data' holds Debezium's unavailable-value placeholder; a create or snapshot "
             "needs the image bytes";
    }
    // An unchanged TOASTed bytea under REPLICA IDENTITY DEFAULT: keep the bytes the copy has.
    event.fields &= ~static_cast<std::uint32_t>(kData);
    event.image.data.clear();
  }
  return {};
}

}  // namespace

DebeziumCodec::DebeziumCodec() : parser_(std::make_unique<Parser>()) {}
DebeziumCodec::~DebeziumCodec() = default;

DecodeResult DebeziumCodec::decode(std::string_view key, std::string_view value, Plant plant) {
  if (value.empty()) return DecodeError{"empty value"};
  ChangeEvent event;
  event.plant = plant;
  // The value first (its reasons say more), then the key: both use the one parser, and parsing
  // the key invalidates the value's document, so nothing of it may be read after this.
  Parser& p = *parser_;
  if (std::string error = decodeEnvelope(p.dom, p.buffer, p.value_frame, p.value_schema, value, event);
      !error.empty()) {
    return DecodeError{std::move(error)};
  }
  std::int64_t key_id = 0;
  if (std::string error = readKeyId(p.dom, p.buffer, p.key_frame, key, key_id); !error.empty()) {
    return DecodeError{std::move(error)};
  }
  if (event.image.id == 0) {
    event.image.id = key_id;  // a delete whose `before` carries no id
  } else if (event.image.id != key_id) {
    return DecodeError{keyMismatch(key_id, event.image.id)};
  }
  return event;
}

}  // namespace leafsync
