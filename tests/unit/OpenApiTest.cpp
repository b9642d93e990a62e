#include "leafsync/OpenApi.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

namespace leafsync {
namespace {

using nlohmann::json;

TEST(OpenApi, TheCompiledInDocumentIsOpenApi31) {
  json document = json::parse(kOpenApiDocument);
  EXPECT_EQ(document["openapi"], "3.1.0");
  EXPECT_TRUE(document["paths"].contains("/image-plant/{plant}/{id}"));
}

TEST(OpenApi, EachServiceServesOnlyItsOwnOperations) {
  json consumer = json::parse(openApiDocumentFor("consumer"));
  json producer = json::parse(openApiDocumentFor("producer"));
  EXPECT_TRUE(consumer["paths"].contains("/sync-status"));
  EXPECT_FALSE(producer["paths"].contains("/sync-status")) << "the producer has no partitions";
  for (const json* document : {&consumer, &producer}) {
    for (const char* path : {"/ping", "/readyz", "/image-plant/{plant}/", "/image-plant/{plant}/{id}", "/openapi.json"}) {
      EXPECT_TRUE((*document)["paths"].contains(path)) << path;
    }
    EXPECT_TRUE((*document)["paths"]["/image-plant/{plant}/"].contains("put")) << "writes are on both";
  }
}

TEST(OpenApi, EveryOperationHasAnExampleAnswer) {
  json document = json::parse(kOpenApiDocument);
  for (auto& [path, operations] : document["paths"].items()) {
    for (auto& [method, operation] : operations.items()) {
      bool has_example = false;
      for (auto& [type, content] : operation["responses"]["200"]["content"].items()) {
        has_example = has_example || content.contains("example");
      }
      EXPECT_TRUE(has_example) << method << " " << path;
    }
  }
}

TEST(OpenApi, WritesDeclareTheBearerToken) {
  json document = json::parse(kOpenApiDocument);
  EXPECT_EQ(document["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
  for (auto [path, method] : {std::pair{"/image-plant/{plant}/", "put"}, {"/image-plant/{plant}/", "post"},
                              {"/image-plant/{plant}/{id}", "delete"}}) {
    const json& security = document["paths"][path][method]["security"];
    ASSERT_TRUE(security.is_array()) << method << " " << path;
    EXPECT_TRUE(security[0].contains("bearerAuth")) << method << " " << path;
  }
  EXPECT_FALSE(document["paths"]["/ping"]["get"].contains("security")) << "reads need no token";
}

TEST(OpenApi, ACreatedImageLinksToItsReadUpdateAndDelete) {
  json document = json::parse(kOpenApiDocument);
  std::set<std::string> operation_ids;
  for (auto& [path, operations] : document["paths"].items()) {
    for (auto& [method, operation] : operations.items()) operation_ids.insert(operation["operationId"].get<std::string>());
  }
  const json& links = document["paths"]["/image-plant/{plant}/"]["put"]["responses"]["200"]["links"];
  std::set<std::string> targets;
  for (auto& [name, link] : links.items()) {
    EXPECT_TRUE(operation_ids.count(link["operationId"].get<std::string>())) << name;
    targets.insert(link["operationId"].get<std::string>());
  }
  EXPECT_EQ(targets, (std::set<std::string>{"get", "update", "delete"}));
}

}  // namespace
}  // namespace leafsync
