// The image-api's request validation: every refusal names the field and has its status.

#include "ImageWrites.h"

#include <gtest/gtest.h>

namespace leafsync {
namespace {

RequestError createError(const std::string& body) {
  auto result = parseCreateRequest(body);
  if (auto* error = std::get_if<RequestError>(&result)) return *error;
  return {0, "<accepted>"};
}

RequestError updateError(const std::string& body) {
  auto result = parseUpdateRequest(body);
  if (auto* error = std::get_if<RequestError>(&result)) return *error;
  return {0, "<accepted>"};
}

TEST(ImageWrites, CreateTakesCameraGpsAndOptionalHexData) {
  auto result = parseCreateRequest(R"({"camera_id": 1, "gps_coordinates": [48.476563, 16.585654], "data": "ffd8"})");
  ASSERT_TRUE(std::holds_alternative<NewImage>(result));
  const NewImage& image = std::get<NewImage>(result);
  EXPECT_EQ(image.camera_id, 1);
  EXPECT_EQ(image.latitude, 48.476563);
  EXPECT_EQ(image.data, "\xff\xd8");
}

TEST(ImageWrites, CreateRefusalsNameTheFieldAndStatus) {
  struct Case {
    std::string body;
    int status;
    std::string detail;
  };
  std::vector<Case> cases = {
      {"{not json", 400, "body is not valid JSON"},
      {"[1]", 400, "body must be a JSON object"},
      {R"({"gps_coordinates": [1, 2]})", 422, "field 'camera_id' is required"},
      {R"({"camera_id": 1})", 422, "field 'gps_coordinates' is required"},
      {R"({"camera_id": "one", "gps_coordinates": [1, 2]})", 422, "field 'camera_id' must be a non-negative integer"},
      {R"({"camera_id": -4, "gps_coordinates": [1, 2]})", 422, "field 'camera_id' must be a non-negative integer"},
      {R"({"camera_id": 1, "gps_coordinates": [1]})", 422, "field 'gps_coordinates' must be [latitude, longitude]"},
      {R"({"camera_id": 1, "gps_coordinates": "48,16"})", 422, "field 'gps_coordinates' must be [latitude, longitude]"},
      {R"({"camera_id": 1, "gps_coordinates": [100, 2]})", 422, "field 'gps_coordinates' latitude must be within [-90, 90]"},
      {R"({"camera_id": 1, "gps_coordinates": [1, 2], "data": "xyz"})", 422, "field 'data' must be a hex string"},
  };
  for (const Case& c : cases) {
    RequestError error = createError(c.body);
    EXPECT_EQ(error.status, c.status) << c.body;
    EXPECT_EQ(error.detail, c.detail) << c.body;
  }
}

TEST(ImageWrites, UpdateCarriesOnlyTheFieldsInTheBody) {
  auto result = parseUpdateRequest(R"({"id": 3, "disease": "Healthy", "percentage": 99.5, "is_active": true})");
  ASSERT_TRUE(std::holds_alternative<ImageChange>(result));
  const ImageChange& change = std::get<ImageChange>(result);
  EXPECT_EQ(change.id, 3);
  EXPECT_EQ(change.fields, kDisease | kPercentage | kIsActive);
  EXPECT_EQ(change.values.disease, "Healthy");
}

TEST(ImageWrites, UpdateAcceptsNullToClearDiseaseAndPercentage) {
  auto result = parseUpdateRequest(R"({"id": 3, "disease": null, "percentage": null})");
  ASSERT_TRUE(std::holds_alternative<ImageChange>(result));
  EXPECT_EQ(std::get<ImageChange>(result).fields, kDisease | kPercentage);
  EXPECT_FALSE(std::get<ImageChange>(result).values.disease);
}

TEST(ImageWrites, IntegersMayBeWrittenWithAZeroFractionAsJsonSchemaAllows) {
  auto update = parseUpdateRequest(R"({"id": 7.0, "camera_id": 2.0})");
  ASSERT_TRUE(std::holds_alternative<ImageChange>(update));
  EXPECT_EQ(std::get<ImageChange>(update).id, 7);
  EXPECT_EQ(std::get<ImageChange>(update).values.camera_id, 2);
  auto create = parseCreateRequest(R"({"camera_id": 9223372036854775807, "gps_coordinates": [1, 2]})");
  ASSERT_TRUE(std::holds_alternative<NewImage>(create));
  EXPECT_EQ(std::get<NewImage>(create).camera_id, 9223372036854775807);
}

TEST(ImageWrites, DiseaseLengthCountsCharactersNotBytes) {
  std::string two_hundred_accented;
  for (int i = 0; i < 200; ++i) two_hundred_accented += "\u00ef";  // ï: two bytes in UTF-8
  auto accepted = parseUpdateRequest(R"({"id": 1, "disease": ")" + two_hundred_accented + R"("})");
  ASSERT_TRUE(std::holds_alternative<ImageChange>(accepted));
  EXPECT_EQ(std::get<ImageChange>(accepted).values.disease->size(), 400u);
  EXPECT_EQ(updateError(R"({"id": 1, "disease": ")" + two_hundred_accented + R"(x"})").detail,
            "field 'disease' is longer than 200 characters");
}

TEST(ImageWrites, UpdateRefusalsNameTheFieldAndStatus) {
  struct Case {
    std::string body;
    std::string detail;
  };
  std::vector<Case> cases = {
      {R"({"disease": "Healthy"})", "field 'id' is required"},
      {R"({"id": "7"})", "field 'id' must be a positive integer"},
      {R"({"id": 0})", "field 'id' must be a positive integer"},
      {R"({"id": 1.5})", "field 'id' must be a positive integer"},
      {R"({"id": 9223372036854775808})", "field 'id' must be a positive integer"},
      {R"({"id": 1e300})", "field 'id' must be a positive integer"},
      {R"({"id": 1, "percentage": -0.5})", "field 'percentage' must be within [0, 100]"},
      {R"({"id": 1, "percentage": "high"})", "field 'percentage' must be a number or null"},
      {R"({"id": 1, "disease": 5})", "field 'disease' must be a string or null"},
      {R"({"id": 1, "disease": ")" + std::string(201, 'x') + R"("})", "field 'disease' is longer than 200 characters"},
      {R"({"id": 1, "is_active": "yes"})", "field 'is_active' must be true or false"},
      {R"({"id": 1, "is_deleted": 1})", "field 'is_deleted' must be true or false"},
      {R"({"id": 1, "gps_coordinates": [0, 181]})", "field 'gps_coordinates' longitude must be within [-180, 180]"},
  };
  for (const Case& c : cases) {
    RequestError error = updateError(c.body);
    EXPECT_EQ(error.status, 422) << c.body;
    EXPECT_EQ(error.detail, c.detail) << c.body;
  }
  EXPECT_EQ(updateError("{").status, 400);
}

}  // namespace
}  // namespace leafsync
