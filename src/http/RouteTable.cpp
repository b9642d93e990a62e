#include "leafsync/RouteTable.h"

#include <nlohmann/json.hpp>
#include <algorithm>
#include <stdexcept>

namespace leafsync {

void RouteTable::add(Pistache::Http::Method method, const char* name, const std::string& path,
                     Pistache::Rest::Route::Handler handler) {
  router_.addRoute(method, path, std::move(handler));
  routes_.push_back({name, path});
}

void RouteTable::get(const std::string& path, Pistache::Rest::Route::Handler handler) {
  add(Pistache::Http::Method::Get, "GET", path, std::move(handler));
}
void RouteTable::post(const std::string& path, Pistache::Rest::Route::Handler handler) {
  add(Pistache::Http::Method::Post, "POST", path, std::move(handler));
}
void RouteTable::put(const std::string& path, Pistache::Rest::Route::Handler handler) {
  add(Pistache::Http::Method::Put, "PUT", path, std::move(handler));
}
void RouteTable::del(const std::string& path, Pistache::Rest::Route::Handler handler) {
  add(Pistache::Http::Method::Delete, "DELETE", path, std::move(handler));
}

std::vector<std::string> RouteTable::methods(const std::string& path) const {
  std::vector<std::string> found;
  for (const Route& r : routes_) {
    if (r.path == path) found.push_back(r.method);
  }
  return found;
}

nlohmann::json RouteTable::describe(const nlohmann::json& port, const std::string& command) const {
  nlohmann::json paths = nlohmann::json::array();
  std::vector<std::string> seen;
  for (const Route& r : routes_) {
    if (std::find(seen.begin(), seen.end(), r.path) != seen.end()) continue;
    seen.push_back(r.path);
    paths.push_back({{"path", r.path}, {"methods", methods(r.path)}});
  }
  for (const char* path : {kLivenessPath, kReadinessPath, kMetricsPath}) {
    auto m = methods(path);
    if (std::find(m.begin(), m.end(), "GET") == m.end()) {
      throw std::logic_error(std::string("the service does not register GET ") + path);
    }
  }
  nlohmann::json d = {{"port", port},
                      {"routes", paths},
                      {"probes", {{"liveness", kLivenessPath}, {"readiness", kReadinessPath}}},
                      {"metrics", {{"path", kMetricsPath}, {"port", port}}}};
  d["command"] = command.empty() ? nlohmann::json(nullptr) : nlohmann::json(command);
  return d;
}

}  // namespace leafsync
