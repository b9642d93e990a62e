#include <gtest/gtest.h>

#include "leafsync/EventCodec.h"
#include "support/EventBuilder.h"

namespace leafsync {
namespace {

using testing::EventBuilder;

class EventCodecTest : public ::testing::Test {
 protected:
  DecodeResult decode(const std::string& value, const std::string& key = "1") {
    return codec_.decode(key, value);
  }
  std::string rejection(const std::string& value, const std::string& key = "1") {
    auto result = decode(value, key);
    auto* error = std::get_if<DecodeError>(&result);
    return error ? error->reason : "<accepted>";
  }
  ChangeEvent accepted(const std::string& value, const std::string& key = "1") {
    auto result = decode(value, key);
    if (auto* error = std::get_if<DecodeError>(&result)) ADD_FAILURE() << error->reason;
    return std::get<ChangeEvent>(result);
  }
  EventCodec codec_;
};

TEST_F(EventCodecTest, CreateRoundTripsEveryField) {
  ChangeEvent sent = EventBuilder::create(1, 1, Plant::Tomato)
                         .camera(7)
                         .data(std::string("\x00\xff\x10 bytes", 9))
                         .gps(-33.5, 151.25)
                         .active(true)
                         .disease("Early blight")
                         .percentage(87.5)
                         .sourceTime(1732520000123);
  ChangeEvent got = accepted(EventCodec::encode(sent));
  EXPECT_EQ(got.op, Op::Create);
  EXPECT_EQ(got.plant, Plant::Tomato);
  EXPECT_EQ(got.source_ts_ms, 1732520000123);
  EXPECT_EQ(got.fields, kAllFields);
  EXPECT_EQ(got.image, sent.image);
}

TEST_F(EventCodecTest, UpdateCarriesOnlyTheChangedFields) {
  std::string json = EventBuilder::update(1, 2).disease("Healthy").percentage(0.995).json();
  EXPECT_EQ(json.find("\"data\""), std::string::npos) << "a metadata update must not re-send image bytes";
  ChangeEvent got = accepted(json);
  EXPECT_EQ(got.op, Op::Update);
  EXPECT_EQ(got.fields, kDisease | kPercentage);
  EXPECT_EQ(got.image.disease, "Healthy");
  EXPECT_EQ(got.image.percentage, 0.995);
}

TEST_F(EventCodecTest, UpdateCanClearNullableFields) {
  ChangeEvent got = accepted(EventBuilder::update(1, 3).disease(std::nullopt).percentage(std::nullopt).json());
  EXPECT_EQ(got.fields, kDisease | kPercentage);
  EXPECT_FALSE(got.image.disease);
  EXPECT_FALSE(got.image.percentage);
}

TEST_F(EventCodecTest, DeleteNeedsNoFields) {
  ChangeEvent got = accepted(R"({"op":"d","plant":"pepper","id":1,"version":4,"ts_ms":5})");
  EXPECT_EQ(got.op, Op::Delete);
  EXPECT_EQ(got.plant, Plant::Pepper);
  EXPECT_EQ(got.image.version, 4);
}

TEST_F(EventCodecTest, SnapshotRoundTripsAsFullState) {
  ChangeEvent got = accepted(EventBuilder::snapshot(1, 9).json());
  EXPECT_EQ(got.op, Op::Snapshot);
  EXPECT_EQ(got.fields, kAllFields);
}

TEST_F(EventCodecTest, CreateWithoutOptionalFieldsTakesDefaults) {
  ChangeEvent got = accepted(
      R"({"op":"c","plant":"potato","id":1,"version":1,"ts_ms":1,"fields":{"camera_id":1,)"
      R"("gps_coordinates":[1,2],"created_at":"2023-10-08T15:39:49","updated_at":"2023-10-08T15:39:49"}})");
  EXPECT_EQ(got.image.data, "");
  EXPECT_FALSE(got.image.is_active);
  EXPECT_FALSE(got.image.disease);
}

TEST_F(EventCodecTest, SnapshotMarkerRoundTrips) {
  SnapshotMarker sent{Plant::Tomato, 20000, 1732520000000};
  auto result = decode(EventCodec::encodeMarker(sent), kSnapshotMarkerKey);
  ASSERT_TRUE(std::holds_alternative<SnapshotMarker>(result));
  auto got = std::get<SnapshotMarker>(result);
  EXPECT_EQ(got.plant, Plant::Tomato);
  EXPECT_EQ(got.rows, 20000);
}

TEST_F(EventCodecTest, RejectsASnapshotMarkerUnderAnImageKey) {
  EXPECT_EQ(rejection(EventCodec::encodeMarker({Plant::Potato, 1, 1}), "7"), "a snapshot marker's key must be 'snapshot-end'");
}

TEST_F(EventCodecTest, RejectsMalformedJson) {
  EXPECT_NE(rejection("{not json").find("malformed JSON"), std::string::npos);
  EXPECT_EQ(rejection(""), "empty value");
  EXPECT_EQ(rejection("[1,2]"), "value is not a JSON object");
}

TEST_F(EventCodecTest, RejectsUnknownOpAndPlant) {
  EXPECT_EQ(rejection(R"({"op":"x","plant":"potato","id":1,"version":1,"ts_ms":1})"),
            "unknown op 'x' (expected c, u, d, r or s)");
  EXPECT_EQ(rejection(R"({"op":"d","plant":"banana","id":1,"version":1,"ts_ms":1})"),
            "unknown plant 'banana'");
}

TEST_F(EventCodecTest, RejectsBadIdentity) {
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":0,"version":1,"ts_ms":1})"),
            "'id' must be a positive integer");
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":"1","version":1,"ts_ms":1})"),
            "'id' must be a positive integer");
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":1,"version":0,"ts_ms":1})"),
            "'version' must be a positive integer");
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":1,"version":1})"),
            "'ts_ms' must be a non-negative integer");
}

TEST_F(EventCodecTest, RejectsAKeyThatIsNotTheId) {
  std::string json = R"({"op":"d","plant":"potato","id":1,"version":1,"ts_ms":1})";
  EXPECT_EQ(rejection(json, "2"), "message key '2' does not match id 1");
  EXPECT_EQ(rejection(json, ""), "missing message key (must be the image id)");
}

TEST_F(EventCodecTest, RejectsInvalidFieldValues) {
  auto update = [](const std::string& fields) {
    return R"({"op":"u","plant":"potato","id":1,"version":2,"ts_ms":1,"fields":)" + fields + "}";
  };
  EXPECT_EQ(rejection(update(R"({"percentage":-1})")), "field 'percentage' must be within [0, 100]");
  EXPECT_EQ(rejection(update(R"({"percentage":"high"})")), "field 'percentage' must be a number or null");
  EXPECT_EQ(rejection(update(R"({"camera_id":1.5})")), "field 'camera_id' must be a non-negative integer");
  EXPECT_EQ(rejection(update(R"({"gps_coordinates":[91,0]})")),
            "field 'gps_coordinates' latitude must be within [-90, 90]");
  EXPECT_EQ(rejection(update(R"({"gps_coordinates":[1]})")), "field 'gps_coordinates' must be [latitude, longitude]");
  EXPECT_EQ(rejection(update(R"({"data":"***"})")), "field 'data' is not valid base64");
  EXPECT_EQ(rejection(update(R"({"updated_at":"soon"})")), "field 'updated_at' must be an ISO-8601 timestamp");
  EXPECT_EQ(rejection(update(R"({"is_active":"yes"})")), "field 'is_active' must be true or false");
  EXPECT_EQ(rejection(update(R"({"colour":"green"})")), "unknown field 'colour'");
  EXPECT_EQ(rejection(update(R"({"disease":"Late\u0000blight"})")), "field 'disease' must not contain NUL characters");
  EXPECT_EQ(rejection(update(R"({})")), "an update must change at least one field");
}

TEST_F(EventCodecTest, RejectsACreateWithoutItsRequiredFields) {
  EXPECT_EQ(rejection(R"({"op":"c","plant":"potato","id":1,"version":1,"ts_ms":1,"fields":{"camera_id":1}})"),
            "a create or snapshot needs camera_id, gps_coordinates, created_at and updated_at");
  EXPECT_EQ(rejection(R"({"op":"c","plant":"potato","id":1,"version":1,"ts_ms":1})"),
            "missing 'fields' object");
}

TEST_F(EventCodecTest, RejectsACreatedAtWithAnImpossibleDate) {
  std::string json = EventBuilder::create(1, 1).json();
  const std::string valid = "2023-10-08T15:39:49.123123";  // EventBuilder's created_at
  ASSERT_NE(json.find(valid), std::string::npos);
  json.replace(json.find(valid), valid.size(), "2023-13-45T99:99:99");
  EXPECT_EQ(rejection(json), "field 'created_at' must be an ISO-8601 timestamp");
}

TEST_F(EventCodecTest, RejectsAnUpdatedAtOnFebruary30) {
  EXPECT_EQ(rejection(R"({"op":"u","plant":"potato","id":1,"version":2,"ts_ms":1,"fields":{"updated_at":"2023-02-30T10:00:00"}})"),
            "field 'updated_at' must be an ISO-8601 timestamp");
}

TEST_F(EventCodecTest, RejectsATsMsAfterYear9999) {
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":1,"version":1,"ts_ms":9223372036854775807})"),
            "'ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z");
}

TEST_F(EventCodecTest, AcceptsATsMsAtTheEndOfYear9999) {
  EXPECT_EQ(accepted(R"({"op":"d","plant":"potato","id":1,"version":1,"ts_ms":253402300799999})").source_ts_ms,
            253402300799999);
}

TEST_F(EventCodecTest, RejectsASnapshotMarkerTsMsAfterYear9999) {
  EXPECT_EQ(rejection(R"({"op":"s","plant":"potato","rows":1,"ts_ms":9223372036854775807})", "snapshot-end"),
            "'ts_ms' must be milliseconds since the epoch, at most 9999-12-31T23:59:59.999Z");
}

TEST_F(EventCodecTest, RejectsANegativeSnapshotMarkerTsMs) {
  EXPECT_EQ(rejection(R"({"op":"s","plant":"potato","rows":1,"ts_ms":-1})", "snapshot-end"),
            "'ts_ms' must be a non-negative integer");
}

TEST_F(EventCodecTest, RejectsADuplicateTopLevelKey) {
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":1,"id":2,"version":1,"ts_ms":1})"),
            "duplicate key 'id'");
}

TEST_F(EventCodecTest, RejectsADuplicateKeyInFields) {
  EXPECT_EQ(rejection(R"({"op":"u","plant":"potato","id":1,"version":2,"ts_ms":1,"fields":{"disease":"Healthy","disease":"Late blight"}})"),
            "duplicate key 'disease'");
}

TEST_F(EventCodecTest, RejectsADuplicateKeySpelledWithAnEscape) {
  EXPECT_EQ(rejection(R"({"op":"d","plant":"potato","id":1,"\u0069d":2,"version":1,"ts_ms":1})"),
            "duplicate key 'id'");
}

TEST_F(EventCodecTest, ReasonEchoesAtMost64CharactersOfAnUnknownOp) {
  std::string op(700 * 1024, 'x');
  std::string reason = rejection(R"({"op":")" + op + R"(","plant":"potato","id":1,"version":1,"ts_ms":1})");
  EXPECT_EQ(reason, "unknown op '" + std::string(64, 'x') + "…' (expected c, u, d, r or s)");
}

TEST_F(EventCodecTest, ReasonEchoesAtMost64CharactersOfAnUnknownPlant) {
  std::string reason = rejection(R"({"op":"d","plant":")" + std::string(1000, 'p') + R"(","id":1,"version":1,"ts_ms":1})");
  EXPECT_EQ(reason, "unknown plant '" + std::string(64, 'p') + "…'");
}

TEST_F(EventCodecTest, ReasonEchoesAtMost64CharactersOfAnUnknownField) {
  std::string reason = rejection(R"({"op":"u","plant":"potato","id":1,"version":2,"ts_ms":1,"fields":{")" +
                                 std::string(1000, 'f') + R"(":1}})");
  EXPECT_EQ(reason, "unknown field '" + std::string(64, 'f') + "…'");
}

TEST_F(EventCodecTest, ReasonEchoesAtMost64CharactersOfAMismatchedKey) {
  std::string reason = rejection(R"({"op":"d","plant":"potato","id":1,"version":1,"ts_ms":1})", std::string(1000, '9'));
  EXPECT_EQ(reason, "message key '" + std::string(64, '9') + "…' does not match id 1");
}

TEST_F(EventCodecTest, ReasonEchoesShortInputWhole) {
  EXPECT_EQ(rejection(R"({"op":"d","plant":")" + std::string(64, 'p') + R"(","id":1,"version":1,"ts_ms":1})"),
            "unknown plant '" + std::string(64, 'p') + "'");
}

TEST_F(EventCodecTest, ReasonDoesNotCutAUtf8CharacterInHalf) {
  // 63 ASCII bytes then a 2-byte character: the cap falls inside it, so the cut backs off.
  std::string plant = std::string(63, 'p') + "\xc3\xa9" + std::string(10, 'p');
  EXPECT_EQ(rejection(R"({"op":"d","plant":")" + plant + R"(","id":1,"version":1,"ts_ms":1})"),
            "unknown plant '" + std::string(63, 'p') + "…'");
}

}  // namespace
}  // namespace leafsync
