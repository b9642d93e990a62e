#pragma once

// The HTTP routes a service registers, kept as a list beside the Pistache router that serves
// them. Pistache headers are heavy: include this only from API translation units.

#include <nlohmann/json_fwd.hpp>
#include <pistache/router.h>

#include <string>
#include <vector>

namespace leafsync {

// The probe and scrape paths every service serves (ReadApi, ImageApi, the batch job):
// --describe names them and the manifests' probes must use them (scripts/check_manifests.py).
inline constexpr const char* kLivenessPath = "/healthz";
inline constexpr const char* kReadinessPath = "/readyz";
inline constexpr const char* kMetricsPath = "/metrics";

// A Pistache router that remembers what was registered on it, so the routes a binary lists
// (--describe) are the very registrations its server answers, never a second list.
class RouteTable {
 public:
  struct Route {
    std::string method;  // "GET", "POST", "PUT", "DELETE"
    std::string path;    // Pistache's template: "/image-plant/:plant/:id"
  };

  void get(const std::string& path, Pistache::Rest::Route::Handler handler);
  void post(const std::string& path, Pistache::Rest::Route::Handler handler);
  void put(const std::string& path, Pistache::Rest::Route::Handler handler);
  void del(const std::string& path, Pistache::Rest::Route::Handler handler);

  // For what is not a route: the not-found and custom (405) handlers.
  Pistache::Rest::Router& router() { return router_; }
  const std::vector<Route>& routes() const { return routes_; }
  // The methods registered on `path` (exactly that template), in registration order.
  std::vector<std::string> methods(const std::string& path) const;

  // The "http" part of --describe: `port` (where the port comes from: {"key" or "option",
  // "env", "default"}), every path with its methods, the probe paths and the metrics path.
  // Throws std::logic_error when a probe or the metrics path is not registered.
  nlohmann::json describe(const nlohmann::json& port, const std::string& command) const;

 private:
  void add(Pistache::Http::Method method, const char* name, const std::string& path,
           Pistache::Rest::Route::Handler handler);

  Pistache::Rest::Router router_;
  std::vector<Route> routes_;
};

}  // namespace leafsync
