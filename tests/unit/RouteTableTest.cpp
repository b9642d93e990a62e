// RouteTable: the routes a service registers, as --describe lists them.

#include "leafsync/RouteTable.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace leafsync {
namespace {

Pistache::Rest::Route::Handler ok() {
  return [](const Pistache::Rest::Request&, Pistache::Http::ResponseWriter) { return Pistache::Rest::Route::Result::Ok; };
}

void registerProbes(RouteTable& routes) {
  routes.get(kLivenessPath, ok());
  routes.get(kReadinessPath, ok());
  routes.get(kMetricsPath, ok());
}

TEST(RouteTableTest, DescribeListsEachPathOnceWithItsMethodsInRegistrationOrder) {
  RouteTable routes;
  routes.get("/image-plant/:plant/", ok());
  routes.put("/image-plant/:plant/", ok());
  routes.del("/image-plant/:plant/:id", ok());
  registerProbes(routes);
  nlohmann::json d = routes.describe({{"key", "http.port"}, {"default", 8080}}, "");
  ASSERT_EQ(d["routes"].size(), 5u) << d.dump();
  EXPECT_EQ(d["routes"][0], (nlohmann::json{{"path", "/image-plant/:plant/"}, {"methods", {"GET", "PUT"}}}));
  EXPECT_EQ(d["routes"][1], (nlohmann::json{{"path", "/image-plant/:plant/:id"}, {"methods", {"DELETE"}}}));
  EXPECT_EQ(d["probes"]["liveness"], "/healthz");
  EXPECT_EQ(d["probes"]["readiness"], "/readyz");
  EXPECT_EQ(d["metrics"]["path"], "/metrics");
  EXPECT_EQ(d["metrics"]["port"]["default"], 8080);
  EXPECT_TRUE(d["command"].is_null());
}

TEST(RouteTableTest, DescribeRefusesAServiceThatDoesNotServeItsProbes) {
  RouteTable routes;
  routes.get(kLivenessPath, ok());
  routes.post(kReadinessPath, ok());  // not a GET: a probe could not use it
  routes.get(kMetricsPath, ok());
  EXPECT_THROW(routes.describe(nullptr, ""), std::logic_error);
}

}  // namespace
}  // namespace leafsync
