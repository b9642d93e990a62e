#include "leafsync/OpenApi.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace leafsync
