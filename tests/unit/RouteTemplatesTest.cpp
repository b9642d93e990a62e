#include <gtest/gtest.h>

#include "leafsync/RouteTemplates.h"

namespace leafsync {
namespace {

RouteTemplates imageRoutes() {
  RouteTemplates routes;
  routes.add("/image-plant/{plant}/", "GET");  // before the fixed path on purpose
  routes.add("/image-plant/is-deployed/", "GET");
  routes.add("/image-plant/{plant}/total/", "GET");
  routes.add("/image-plant/{plant}/{id}", "GET");
  routes.add("/image-plant/:plant/:id", "PUT");
  return routes;
}

TEST(RouteTemplates, APathIsCountedUnderItsTemplateInTheRoutersSyntax) {
  RouteTemplates routes = imageRoutes();
  EXPECT_EQ(routes.labelFor("/image-plant/potato/17"), "/image-plant/:plant/:id");
  EXPECT_EQ(routes.labelFor("/image-plant/potato/total/"), "/image-plant/:plant/total/");
}

TEST(RouteTemplates, AFixedSegmentWinsOverAParameterWhateverTheOrderOfAdding) {
  EXPECT_EQ(imageRoutes().labelFor("/image-plant/is-deployed/"), "/image-plant/is-deployed/");
  EXPECT_EQ(imageRoutes().labelFor("/image-plant/tomato/"), "/image-plant/:plant/");
}

TEST(RouteTemplates, QueryTrailingSlashAndDoubledSlashesDoNotChangeTheTemplate) {
  RouteTemplates routes = imageRoutes();
  EXPECT_EQ(routes.labelFor("/image-plant/potato/?after_id=5&limit=10"), "/image-plant/:plant/");
  EXPECT_EQ(routes.labelFor("/image-plant/potato/total"), "/image-plant/:plant/total/");
  EXPECT_EQ(routes.labelFor("//image-plant//potato/17"), "/image-plant/:plant/:id");
}

TEST(RouteTemplates, APathNoTemplateTakesIsUnmatched) {
  RouteTemplates routes = imageRoutes();
  EXPECT_EQ(routes.labelFor("/no/such/path"), RouteTemplates::kUnmatched);
  EXPECT_EQ(routes.labelFor("/image-plant/potato/17/extra"), RouteTemplates::kUnmatched);
  EXPECT_EQ(routes.match("/"), nullptr);
}

TEST(RouteTemplates, TheSameTemplateInBothSyntaxesIsOneRouteWithBothMethods) {
  RouteTemplates routes = imageRoutes();
  const RouteTemplates::Route* route = routes.match("/image-plant/pepper/3");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->methods, "GET, PUT");
  EXPECT_EQ(routes.routes().size(), 4u);
}

}  // namespace
}  // namespace leafsync
