#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace leafsync {

// The path templates a service serves and their methods: what a request's path is counted
// under on /metrics (the template, never the raw path, so the series stay few) and which
// methods a JSON 405 names. Pistache 0.0.5's router does not tell which route it matched.
class RouteTemplates {
 public:
  // Where a path no template takes is counted.
  static constexpr const char* kUnmatched = "unmatched";

  struct Route {
    std::string label;    // "/image-plant/:plant/:id", parameters in the router's syntax
    std::string methods;  // "GET, PUT, DELETE"
    std::vector<std::string> segments;
    std::size_t fixed = 0;  // segments that are not parameters
  };

  // `path_template` with parameters as ":plant" or "{plant}"; `methods` as "GET, PUT" (a
  // second add of the same template adds its methods).
  void add(std::string_view path_template, std::string_view methods);

  // The template `resource` matches (its query ignored, as are empty segments, as Pistache's
  // router does), the most specific first ("/image-plant/is-deployed/" before
  // "/image-plant/:plant/"); nullptr if none.
  const Route* match(std::string_view resource) const;
  const std::string& labelFor(std::string_view resource) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace leafsync
