#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "leafsync/DebeziumCodec.h"
#include "leafsync/ImageValidation.h"

namespace leafsync {
namespace {

constexpr std::int64_t kLastVersion = std::numeric_limits<std::int64_t>::max();

// Recorded envelopes: tests/unit/debezium/<name>.{key,value}.json (an absolute path from the
// build: __FILE__ is relative when the compiler runs under ccache with a base directory).
std::string sample(const std::string& file) {
  std::string path = std::string(LEAFSYNC_TEST_SOURCE_DIR) + "/unit/debezium/" + file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read sample " << path;
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Columns as raw JSON, in the source table's order; tests change one at a time.
class Columns {
 public:
  explicit Columns(std::vector<std::pair<std::string, std::string>> columns)
      : columns_(std::move(columns)) {}

  Columns& set(const std::string& name, const std::string& json) {
    for (auto& [column, value] : columns_) {
      if (column == name) {
        value = json;
        return *this;
      }
    }
    columns_.emplace_back(name, json);
    return *this;
  }
  Columns& drop(const std::string& name) {
    for (auto it = columns_.begin(); it != columns_.end(); ++it) {
      if (it->first == name) {
        columns_.erase(it);
        break;
      }
    }
    return *this;
  }
  std::string object() const {
    std::string out = "{";
    for (const auto& [column, value] : columns_) {
      if (out.size() > 1) out += ",";
      out += "\"" + column + "\":" + value;
    }
    return out + "}";
  }
  // As the fields of a struct schema: {"type":...,"field":"<column>"}.
  std::string schemaFields() const {
    std::string out = "[";
    for (const auto& [column, schema] : columns_) {
      if (out.size() > 1) out += ",";
      out += schema.substr(0, schema.size() - 1) + ",\"field\":\"" + column + "\"}";
    }
    return out + "]";
  }

 private:
  std::vector<std::pair<std::string, std::string>> columns_;
};

// A valid row of public.image_potato, as Debezium sends it without schemas.
Columns row() {
  return Columns({{"id", "1"},
                  {"camera_id", "7"},
                  {"data", "\"/9j/4AAQSkZJRgABAQ==\""},
                  {"latitude", "48.476563"},
                  {"longitude", "16.585654"},
                  {"created_at", "1764059989123123"},
                  {"updated_at", "1764059989123123"},
                  {"is_active", "false"},
                  {"is_deleted", "false"},
                  {"disease", "null"},
                  {"percentage", "null"},
                  {"version", "1"}});
}

// The JSON converter's schema of that row with the connector's defaults.
Columns rowSchema() {
  const std::string micros =
      R"({"type":"int64","optional":false,"name":"io.debezium.time.MicroTimestamp","version":1})";
  return Columns({{"id", R"({"type":"int64","optional":false})"},
                  {"camera_id", R"({"type":"int64","optional":false})"},
                  {"data", R"({"type":"bytes","optional":false})"},
                  {"latitude", R"({"type":"double","optional":false})"},
                  {"longitude", R"({"type":"double","optional":false})"},
                  {"created_at", micros},
                  {"updated_at", micros},
                  {"is_active", R"({"type":"boolean","optional":false,"default":false})"},
                  {"is_deleted", R"({"type":"boolean","optional":false,"default":false})"},
                  {"disease", R"({"type":"string","optional":true})"},
                  {"percentage", R"({"type":"double","optional":true})"},
                  {"version", R"({"type":"int64","optional":false,"default":1})"}});
}

std::string envelope(const std::string& op, const std::string& before, const std::string& after,
                     const std::string& source_ts_ms = "1764059989125") {
  return R"({"before":)" + before + R"(,"after":)" + after +
         R"(,"source":{"version":"2.5.4.Final","connector":"postgresql","name":"lims","ts_ms":)" +
         source_ts_ms +
         R"(,"snapshot":"false","db":"producer_plant_db","sequence":"[\"24023120\",\"24023128\"]",)"
         R"("schema":"public","table":"image_potato","txId":771,"lsn":24023128,"xmin":null},)"
         R"("op":")" + op + R"(","ts_ms":1764059989431,"transaction":null})";
}

std::string withSchema(const std::string& payload, const Columns& schema = rowSchema()) {
  std::string row_struct = R"({"type":"struct","fields":)" + schema.schemaFields() +
                           R"(,"optional":true,"name":"lims.public.image_potato.Value","field":")";
  return R"({"schema":{"type":"struct","fields":[)" + row_struct + R"(before"},)" + row_struct +
         R"(after"},{"type":"string","optional":false,"field":"op"}],"optional":false,)"
         R"("name":"lims.public.image_potato.Envelope","version":1},"payload":)" + payload + "}";
}

std::string create(const Columns& columns = row()) { return envelope("c", "null", columns.object()); }

const std::string kJpeg("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01", 13);

// The row of create*.value.json.
ImageRecord createdImage() {
  ImageRecord image;
  image.id = 1;
  image.camera_id = 7;
  image.data = kJpeg;
  image.latitude = 48.476563;
  image.longitude = 16.585654;
  image.created_at = "2025-11-25T08:39:49.123123";
  image.updated_at = "2025-11-25T08:39:49.123123";
  image.version = 1;
  return image;
}

ImageRecord deletedImage(std::int64_t id, std::int64_t version) {
  ImageRecord image;
  image.id = id;
  image.version = version;
  return image;
}

class DebeziumCodecTest : public ::testing::Test {
 protected:
  ChangeEvent accepted(const std::string& key, const std::string& value, Plant plant = Plant::Potato) {
    auto result = codec_.decode(key, value, plant);
    if (auto* error = std::get_if<DecodeError>(&result)) {
      ADD_FAILURE() << error->reason;
      return {};
    }
    return std::get<ChangeEvent>(result);
  }
  ChangeEvent acceptedSample(const std::string& name, Plant plant = Plant::Potato) {
    return accepted(sample(name + ".key.json"), sample(name + ".value.json"), plant);
  }
  std::string rejection(const std::string& key, const std::string& value) {
    auto result = codec_.decode(key, value, Plant::Potato);
    auto* error = std::get_if<DecodeError>(&result);
    return error ? error->reason : "<accepted>";
  }
  // A row's created_at as decoded, for the temporal tests.
  std::string createdAt(const std::string& value) {
    return accepted(R"({"id":1})", value).image.created_at;
  }
  DebeziumCodec codec_;
};

// ---- recorded samples -------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, CreateWithSchemaSampleDecodesEveryColumn) {
  ChangeEvent got = acceptedSample("create_schema");
  EXPECT_EQ(got.op, Op::Create);
  EXPECT_EQ(got.plant, Plant::Potato);
  EXPECT_EQ(got.source_ts_ms, 1764059989125);
  EXPECT_EQ(got.fields, kAllFields);
  EXPECT_EQ(got.image, createdImage());
}

TEST_F(DebeziumCodecTest, CreateWithoutSchemaSampleDecodesEveryColumn) {
  ChangeEvent got = acceptedSample("create");
  EXPECT_EQ(got.op, Op::Create);
  EXPECT_EQ(got.plant, Plant::Potato);
  EXPECT_EQ(got.source_ts_ms, 1764059989125);
  EXPECT_EQ(got.fields, kAllFields);
  EXPECT_EQ(got.image, createdImage());
}

TEST_F(DebeziumCodecTest, UpdateSampleCarriesTheFullRow) {
  ChangeEvent got = acceptedSample("update_schema");
  ImageRecord expected = createdImage();
  expected.updated_at = "2025-11-25T08:39:50.456000";
  expected.is_active = true;
  expected.disease = "Late blight";
  expected.percentage = 87.5;
  expected.version = 2;
  EXPECT_EQ(got.op, Op::Update);
  EXPECT_EQ(got.plant, Plant::Potato);
  EXPECT_EQ(got.source_ts_ms, 1764059990458);
  EXPECT_EQ(got.fields, kAllFields);
  EXPECT_EQ(got.image, expected);
}

TEST_F(DebeziumCodecTest, UpdateWithUnchangedToastedImageKeepsTheCopysBytes) {
  ChangeEvent got = acceptedSample("update_unchanged_toast");
  ImageRecord expected;
  expected.id = 2;
  expected.camera_id = 9;
  expected.latitude = -33.5;
  expected.longitude = 151.25;
  expected.created_at = "2025-11-25T08:39:51.000001";
  expected.updated_at = "2025-11-25T08:39:55.250000";
  expected.is_active = true;
  expected.disease = "Early blight";
  expected.percentage = 12.25;
  expected.version = 4;
  EXPECT_EQ(got.op, Op::Update);
  EXPECT_EQ(got.source_ts_ms, 1764059995251);
  EXPECT_EQ(got.fields, kAllFields & ~static_cast<std::uint32_t>(kData));
  EXPECT_EQ(got.image, expected);
}

TEST_F(DebeziumCodecTest, DeleteUnderReplicaIdentityFullTakesTheVersionAfterBefore) {
  ChangeEvent got = acceptedSample("delete_full_schema");
  EXPECT_EQ(got.op, Op::Delete);
  EXPECT_EQ(got.plant, Plant::Potato);
  EXPECT_EQ(got.source_ts_ms, 1764059999000);
  EXPECT_EQ(got.fields, 0u);
  EXPECT_EQ(got.image, deletedImage(1, 3));
}

TEST_F(DebeziumCodecTest, DeleteUnderDefaultIdentityWithSchemaBeatsEveryVersion) {
  ChangeEvent got = acceptedSample("delete_default_schema");
  EXPECT_EQ(got.op, Op::Delete);
  EXPECT_EQ(got.plant, Plant::Potato);
  EXPECT_EQ(got.source_ts_ms, 1764060003000);
  EXPECT_EQ(got.fields, 0u);
  EXPECT_EQ(got.image, deletedImage(2, kLastVersion));
}

TEST_F(DebeziumCodecTest, DeleteUnderDefaultIdentityWithoutSchemaBeatsEveryVersion) {
  ChangeEvent got = acceptedSample("delete_default");
  EXPECT_EQ(got.op, Op::Delete);
  EXPECT_EQ(got.source_ts_ms, 1764060003000);
  EXPECT_EQ(got.fields, 0u);
  EXPECT_EQ(got.image, deletedImage(2, kLastVersion));
}

TEST_F(DebeziumCodecTest, SnapshotReadSampleDecodesEveryColumn) {
  ChangeEvent got = acceptedSample("read", Plant::Pepper);
  ImageRecord expected;
  expected.id = 17;
  expected.camera_id = 3;
  expected.data = std::string("\x89PNG\r\n\x1a\n", 8);
  expected.latitude = 40.4165;
  expected.longitude = -3.70256;
  expected.created_at = "2025-11-24T16:00:00.000000";
  expected.updated_at = "2025-11-25T05:53:20.654321";
  expected.is_deleted = true;
  expected.percentage = 0.5;
  expected.version = 5;
  EXPECT_EQ(got.op, Op::Snapshot);
  EXPECT_EQ(got.plant, Plant::Pepper);
  EXPECT_EQ(got.source_ts_ms, 1764060000002);
  EXPECT_EQ(got.fields, kAllFields);
  EXPECT_EQ(got.image, expected);
}

// ---- keys ---------------------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, PlainDecimalKeyIsAccepted) {
  EXPECT_EQ(accepted("1", create()).image.id, 1);
}

TEST_F(DebeziumCodecTest, KeyIdDifferentFromRowIdIsRejected) {
  EXPECT_EQ(rejection(R"({"id":2})", create()), "message key id 2 does not match row id 1");
}

TEST_F(DebeziumCodecTest, WrappedKeyIdDifferentFromRowIdIsRejected) {
  std::string key = R"({"schema":{"type":"struct","fields":[{"type":"int64","optional":false,)"
                    R"("field":"id"}],"optional":false,"name":"lims.public.image_potato.Key"},)"
                    R"("payload":{"id":5}})";
  EXPECT_EQ(rejection(key, create()), "message key id 5 does not match row id 1");
}

TEST_F(DebeziumCodecTest, PlainKeyDifferentFromRowIdIsRejected) {
  EXPECT_EQ(rejection("10", create()), "message key id 10 does not match row id 1");
}

TEST_F(DebeziumCodecTest, DeleteKeyDifferentFromBeforeIdIsRejected) {
  EXPECT_EQ(rejection(R"({"id":3})", envelope("d", row().object(), "null")),
            "message key id 3 does not match row id 1");
}

TEST_F(DebeziumCodecTest, MissingKeyIsRejected) {
  EXPECT_EQ(rejection("", create()), "missing message key (must be the image id)");
}

TEST_F(DebeziumCodecTest, KeyWithoutIdIsRejected) {
  EXPECT_EQ(rejection(R"({"image_id":1})", create()), "message key has no positive integer 'id'");
}

TEST_F(DebeziumCodecTest, NonNumericPlainKeyIsRejected) {
  EXPECT_EQ(rejection("one", create()), "message key 'one' is not an image id");
}

// ---- delete version rule ----------------------------------------------------------------------

TEST_F(DebeziumCodecTest, DeleteWithoutBeforeTakesTheIdFromTheKeyAndBeatsEveryVersion) {
  ChangeEvent got = accepted(R"({"id":4})", envelope("d", "null", "null"));
  EXPECT_EQ(got.op, Op::Delete);
  EXPECT_EQ(got.image, deletedImage(4, kLastVersion));
}

TEST_F(DebeziumCodecTest, DeleteWithBeforeHoldingOnlyTheKeyBeatsEveryVersion) {
  ChangeEvent got = accepted(R"({"id":4})", envelope("d", R"({"id":4})", "null"));
  EXPECT_EQ(got.image, deletedImage(4, kLastVersion));
}

TEST_F(DebeziumCodecTest, DeleteWithBeforeVersionTakesTheNextVersion) {
  ChangeEvent got = accepted(R"({"id":1})", envelope("d", row().set("version", "41").object(), "null"));
  EXPECT_EQ(got.image.version, 42);
}

TEST_F(DebeziumCodecTest, DeleteAtTheLargestVersionDoesNotOverflow) {
  ChangeEvent got = accepted(
      R"({"id":1})", envelope("d", row().set("version", "9223372036854775807").object(), "null"));
  EXPECT_EQ(got.image.version, kLastVersion);
}

TEST_F(DebeziumCodecTest, DeleteWithARowInAfterIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", envelope("d", "null", row().object())),
            "a delete must have 'after' null");
}

TEST_F(DebeziumCodecTest, DeleteWithKeyPaddedWithTheVersionDefaultBeatsEveryVersion) {
  // REPLICA IDENTITY DEFAULT and `version bigint NOT NULL DEFAULT 1`: Debezium pads version with 1.
  Columns padded = row()
                       .set("camera_id", "0")
                       .set("data", R"("")")
                       .set("latitude", "0.0")
                       .set("longitude", "0.0")
                       .set("created_at", "0")
                       .set("updated_at", "0")
                       .set("version", "1");
  ChangeEvent got = accepted(R"({"id":1})", envelope("d", padded.object(), "null"));
  EXPECT_EQ(got.image, deletedImage(1, kLastVersion));
}

TEST_F(DebeziumCodecTest, DeleteOfAFullRowWithNonPositiveVersionIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", envelope("d", row().set("version", "0").object(), "null")),
            "column 'version' in 'before' must be a positive integer");
}

// ---- timestamps ---------------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, MicroTimestampSchemaIsMicroseconds) {
  EXPECT_EQ(createdAt(withSchema(create())), "2025-11-25T08:39:49.123123");
}

TEST_F(DebeziumCodecTest, DebeziumTimestampSchemaIsMilliseconds) {
  auto schema = rowSchema().set(
      "created_at", R"({"type":"int64","optional":false,"name":"io.debezium.time.Timestamp","version":1})");
  EXPECT_EQ(createdAt(withSchema(create(row().set("created_at", "1764059989123")), schema)),
            "2025-11-25T08:39:49.123000");
}

TEST_F(DebeziumCodecTest, ConnectTimestampSchemaIsMilliseconds) {
  auto schema = rowSchema().set(
      "created_at",
      R"({"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1})");
  EXPECT_EQ(createdAt(withSchema(create(row().set("created_at", "1764059989123")), schema)),
            "2025-11-25T08:39:49.123000");
}

TEST_F(DebeziumCodecTest, ZonedTimestampSchemaKeepsTheString) {
  auto schema = rowSchema().set(
      "created_at", R"({"type":"string","optional":false,"name":"io.debezium.time.ZonedTimestamp","version":1})");
  EXPECT_EQ(createdAt(withSchema(create(row().set("created_at", R"("2025-11-25T08:39:49.123123Z")")), schema)),
            "2025-11-25T08:39:49.123123Z");
}

TEST_F(DebeziumCodecTest, IntegerTimestampWithoutSchemaIsMicroseconds) {
  EXPECT_EQ(createdAt(create(row().set("created_at", "1696779589123123"))), "2023-10-08T15:39:49.123123");
}

TEST_F(DebeziumCodecTest, StringTimestampWithoutSchemaIsKeptAsSent) {
  EXPECT_EQ(createdAt(create(row().set("created_at", R"("2023-10-08T15:39:49.5+02:00")"))),
            "2023-10-08T15:39:49.5+02:00");
}

TEST_F(DebeziumCodecTest, NonTimestampSchemaIsRejected) {
  auto schema = rowSchema().set(
      "created_at", R"({"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1})");
  std::string reason = rejection(R"({"id":1})", withSchema(create(row().set("created_at", "20417")), schema));
  EXPECT_EQ(reason.rfind("column 'created_at' has schema 'io.debezium.time.Date', not a timestamp", 0), 0u)
      << reason;
}

TEST_F(DebeziumCodecTest, IntegerSchemaWithoutTimestampNameIsRejected) {
  auto schema = rowSchema().set("updated_at", R"({"type":"int64","optional":false})");
  std::string reason = rejection(R"({"id":1})", withSchema(create(), schema));
  EXPECT_EQ(reason.rfind("column 'updated_at' has schema type 'int64', not a timestamp", 0), 0u) << reason;
}

TEST_F(DebeziumCodecTest, TimestampBeforeTheEpochIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("created_at", "-1"))),
            "column 'created_at' is before 1970-01-01, which is not supported");
}

TEST_F(DebeziumCodecTest, TimestampAfterYear9999IsRejected) {
  // PostgreSQL's 'infinity' arrives as the largest long.
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("updated_at", "9223372036854775807"))),
            "column 'updated_at' is out of range (after year 9999)");
}

TEST_F(DebeziumCodecTest, MalformedZonedTimestampIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("created_at", R"("yesterday")"))),
            "column 'created_at' must be an ISO-8601 timestamp string");
}

TEST_F(DebeziumCodecTest, MicroTimestampOfWrongTypeIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", withSchema(create(row().set("created_at", "1.5")))),
            "column 'created_at' must be an integer (microseconds since the epoch)");
}

// ---- bytes ------------------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, InvalidBase64IsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("data", R"("not base64!")"))),
            "column 'data' is not valid base64");
}

TEST_F(DebeziumCodecTest, DataWithStringSchemaIsRejected) {
  // binary.handling.mode=hex or base64: a string schema that cannot be told apart safely.
  auto schema = rowSchema().set("data", R"({"type":"string","optional":false})");
  EXPECT_EQ(rejection(R"({"id":1})", withSchema(create(row().set("data", R"("ffd8ffe0")")), schema)),
            "column 'data' must have schema type 'bytes' (binary.handling.mode=bytes), not 'string'");
}

TEST_F(DebeziumCodecTest, UnavailablePlaceholderInACreateIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("data", R"("X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==")"))),
            "column 'data' holds Debezium's unavailable-value placeholder; a create or snapshot needs "
            "the image bytes");
}

// ---- row validation ---------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, MissingColumnIsRejectedNamingIt) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().drop("camera_id"))),
            "column 'camera_id' is missing from 'after'");
}

TEST_F(DebeziumCodecTest, MissingNullableColumnIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().drop("percentage"))),
            "column 'percentage' is missing from 'after'");
}

TEST_F(DebeziumCodecTest, WrongTypeIsRejectedNamingTheColumn) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("camera_id", R"("7")"))),
            "column 'camera_id' must be a non-negative integer");
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("is_active", "1"))),
            "column 'is_active' must be true or false");
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("latitude", "null"))),
            "column 'latitude' must be a number");
}

TEST_F(DebeziumCodecTest, GpsOutOfRangeIsRejectedWithTheSharedRule) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("latitude", "91.5"))), checkGps(91.5, 16.585654));
}

TEST_F(DebeziumCodecTest, PercentageOutOfRangeIsRejectedWithTheSharedRule) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("percentage", "100.5"))), checkPercentage(100.5));
}

TEST_F(DebeziumCodecTest, OverlongDiseaseIsRejectedWithTheSharedRule) {
  std::string disease(kMaxDiseaseLength + 1, 'x');
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("disease", "\"" + disease + "\""))),
            checkDisease(disease));
}

TEST_F(DebeziumCodecTest, NonPositiveVersionIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("version", "0"))),
            "column 'version' must be a positive integer");
}

TEST_F(DebeziumCodecTest, UnknownExtraColumnsAreIgnored) {
  ChangeEvent got = accepted(R"({"id":1})", create(row().set("uploaded_by", R"("camera-7")")));
  EXPECT_EQ(got.image, createdImage());
}

// ---- envelope -----------------------------------------------------------------------------------

TEST_F(DebeziumCodecTest, UnknownOpIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", envelope("x", "null", row().object())),
            "unknown op 'x' (expected c, u, d or r)");
}

TEST_F(DebeziumCodecTest, TruncateIsRejected) {
  std::string reason = rejection(R"({"id":1})", envelope("t", "null", "null"));
  EXPECT_EQ(reason.rfind("unsupported op 't' (truncate)", 0), 0u) << reason;
}

TEST_F(DebeziumCodecTest, NullAfterIsRejectedForCreateUpdateAndSnapshot) {
  for (std::string op : {"c", "u", "r"}) {
    EXPECT_EQ(rejection(R"({"id":1})", envelope(op, "null", "null")),
              "'after' is null: op '" + op + "' needs the row");
  }
}

TEST_F(DebeziumCodecTest, HeartbeatIsNotAChangeEvent) {
  EXPECT_EQ(rejection(R"({"serverName":"lims"})", R"({"ts_ms":1764059989431})"),
            "not a change event: no 'op' (a heartbeat or transaction-metadata message?)");
}

TEST_F(DebeziumCodecTest, TransactionMetadataIsNotAChangeEvent) {
  EXPECT_EQ(rejection(R"({"id":"771:24023128"})",
                      R"({"status":"END","id":"771:24023128","ts_ms":1764059989125,"event_count":1,)"
                      R"("data_collections":[{"data_collection":"public.image_potato","event_count":1}]})"),
            "not a change event: no 'op' (a heartbeat or transaction-metadata message?)");
}

TEST_F(DebeziumCodecTest, MalformedJsonIsRejected) {
  std::string reason = rejection(R"({"id":1})", R"({"before":null,"after":)");
  EXPECT_EQ(reason.rfind("malformed JSON: ", 0), 0u) << reason;
}

TEST_F(DebeziumCodecTest, EmptyValueIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", ""), "empty value");
}

TEST_F(DebeziumCodecTest, NullPayloadIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", R"({"schema":null,"payload":null})"),
            "not a change event: 'payload' is null");
}

TEST_F(DebeziumCodecTest, SchemaWithoutAfterIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", R"({"schema":{"type":"struct","fields":[]},"payload":)" + create() + "}"),
            "the envelope's schema does not describe 'after'");
}

TEST_F(DebeziumCodecTest, SourceTimestampIsTheCommitTime) {
  EXPECT_EQ(accepted("1", envelope("c", "null", row().object(), "1700000000000")).source_ts_ms, 1700000000000);
}

TEST_F(DebeziumCodecTest, EnvelopeTimestampStandsInForAMissingSourceTimestamp) {
  std::string value = R"({"before":null,"after":)" + row().object() + R"(,"op":"c","ts_ms":1764059989431})";
  EXPECT_EQ(accepted("1", value).source_ts_ms, 1764059989431);
}

TEST_F(DebeziumCodecTest, MissingTimestampsAreRejected) {
  std::string value = R"({"before":null,"after":)" + row().object() + R"(,"op":"c"})";
  EXPECT_EQ(rejection("1", value), "missing 'source.ts_ms' and 'ts_ms'");
}

TEST_F(DebeziumCodecTest, PlantComesFromTheCaller) {
  EXPECT_EQ(accepted("1", create(), Plant::Tomato).plant, Plant::Tomato);
}

TEST_F(DebeziumCodecTest, CodecDecodesAfterARejection) {
  EXPECT_NE(rejection(R"({"id":1})", "{"), "<accepted>");
  EXPECT_EQ(accepted(R"({"id":1})", withSchema(create())).image, createdImage());
}

// ---- bad input that must be dead-lettered -------------------------------------------------------

TEST_F(DebeziumCodecTest, ZonedTimestampWithAnImpossibleDateIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("created_at", R"("2023-02-30T10:00:00Z")"))),
            "column 'created_at' must be an ISO-8601 timestamp string");
}

TEST_F(DebeziumCodecTest, ZonedTimestampWithAnOffsetBeyond23HoursIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1})", create(row().set("created_at", R"("2023-10-08T15:39:49+99:99")"))),
            "column 'created_at' must be an ISO-8601 timestamp string");
}

TEST_F(DebeziumCodecTest, SourceTimestampAfterYear9999IsRejected) {
  EXPECT_EQ(rejection("1", envelope("c", "null", row().object(), "9223372036854775807")),
            "'source.ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z");
}

TEST_F(DebeziumCodecTest, EnvelopeTimestampAfterYear9999IsRejected) {
  std::string value = R"({"before":null,"after":)" + row().object() + R"(,"op":"c","ts_ms":9223372036854775807})";
  EXPECT_EQ(rejection("1", value),
            "'ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z");
}

TEST_F(DebeziumCodecTest, DuplicateEnvelopeKeyIsRejected) {
  std::string value = R"({"before":null,"after":)" + row().object() + R"(,"op":"c","op":"d","ts_ms":1})";
  EXPECT_EQ(rejection("1", value), "duplicate key 'op'");
}

TEST_F(DebeziumCodecTest, DuplicateColumnInAfterIsRejected) {
  std::string after = row().object();
  after.insert(after.size() - 1, R"(,"version":2)");
  EXPECT_EQ(rejection(R"({"id":1})", envelope("c", "null", after)), "duplicate key 'version'");
}

TEST_F(DebeziumCodecTest, DuplicateKeyInTheSourceBlockIsRejected) {
  std::string value = R"({"before":null,"after":)" + row().object() +
                      R"(,"source":{"ts_ms":1,"ts_ms":2},"op":"c","ts_ms":1})";
  EXPECT_EQ(rejection("1", value), "duplicate key 'ts_ms'");
}

TEST_F(DebeziumCodecTest, DuplicateKeyInTheMessageKeyIsRejected) {
  EXPECT_EQ(rejection(R"({"id":1,"id":2})", create()), "duplicate key 'id' in the message key");
}

TEST_F(DebeziumCodecTest, ReasonEchoesAtMost64CharactersOfAnUnknownOp) {
  EXPECT_EQ(rejection(R"({"id":1})", envelope(std::string(700 * 1024, 'x'), "null", row().object())),
            "unknown op '" + std::string(64, 'x') + "…' (expected c, u, d or r)");
}

TEST_F(DebeziumCodecTest, ReasonEchoesAtMost64CharactersOfAPlainKey) {
  EXPECT_EQ(rejection(std::string(1000, 'k'), create()),
            "message key '" + std::string(64, 'k') + "…' is not an image id");
}

TEST_F(DebeziumCodecTest, ReasonEchoesAtMost64CharactersOfASchemaName) {
  Columns schema = rowSchema().set(
      "created_at", R"({"type":"int64","optional":false,"name":")" + std::string(1000, 'n') + R"("})");
  std::string reason = rejection(R"({"id":1})", withSchema(create(), schema));
  EXPECT_EQ(reason.rfind("column 'created_at' has schema '" + std::string(64, 'n') + "…', not a timestamp", 0), 0u)
      << reason.substr(0, 200);
}

// ---- one codec, many messages: the schema read once (SchemaFrame) -------------------------------

TEST_F(DebeziumCodecTest, MessagesWithTheSameSchemaDecodeAsEachOneAlone) {
  const std::string first = withSchema(create(row().set("id", "1")));
  const std::string second = withSchema(create(row().set("id", "2").set("camera_id", "9")));
  accepted(R"({"id":1})", first);
  ChangeEvent again = accepted(R"({"id":2})", second);
  DebeziumCodec fresh;
  EXPECT_EQ(again.image, std::get<ChangeEvent>(fresh.decode(R"({"id":2})", second, Plant::Potato)).image);
}

TEST_F(DebeziumCodecTest, MessageWithAnotherSchemaIsReadWithItsOwn) {
  auto millis = rowSchema().set(
      "created_at", R"({"type":"int64","optional":false,"name":"io.debezium.time.Timestamp","version":1})");
  EXPECT_EQ(createdAt(withSchema(create(row().set("created_at", "1764059989123")))), "1970-01-21T10:00:59.989123");
  EXPECT_EQ(createdAt(withSchema(create(row().set("created_at", "1764059989123")), millis)),
            "2025-11-25T08:39:49.123000");
}

TEST_F(DebeziumCodecTest, MalformedPayloadAfterTheSameSchemaGetsTheWholeDocumentsReason) {
  accepted(R"({"id":1})", withSchema(create()));
  const std::string broken = withSchema(R"({"before":null,"after":{"id":1,}})");
  DebeziumCodec fresh;
  EXPECT_EQ(rejection(R"({"id":1})", broken),
            std::get<DecodeError>(fresh.decode(R"({"id":1})", broken, Plant::Potato)).reason);
}

TEST_F(DebeziumCodecTest, DuplicateKeyInThePayloadAfterTheSameSchemaIsRejected) {
  accepted(R"({"id":1})", withSchema(create()));
  std::string after = row().object();
  after.insert(after.size() - 1, R"(,"version":2)");
  EXPECT_EQ(rejection(R"({"id":1})", withSchema(envelope("c", "null", after))), "duplicate key 'version'");
}

TEST_F(DebeziumCodecTest, SchemaFollowedByMoreThanThePayloadIsRejected) {
  accepted(R"({"id":1})", withSchema(create()));
  std::string value = withSchema(create());
  value.insert(value.size() - 1, R"(,"payload":null)");
  EXPECT_EQ(rejection(R"({"id":1})", value), "duplicate key 'payload'");
}

TEST_F(DebeziumCodecTest, KeyWithTheSameSchemaTwiceReadsEachId) {
  const std::string key_schema = R"({"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],)"
                                 R"("optional":false,"name":"lims.public.image_potato.Key"},"payload":)";
  accepted(key_schema + R"({"id":1}})", withSchema(create(row().set("id", "1"))));
  EXPECT_EQ(accepted(key_schema + R"({"id":2}})", withSchema(create(row().set("id", "2")))).image.id, 2);
  EXPECT_EQ(rejection(key_schema + R"({"id":3}})", withSchema(create(row().set("id", "2")))),
            "message key id 3 does not match row id 2");
}

}  // namespace
}  // namespace leafsync
