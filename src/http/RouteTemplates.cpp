#include "leafsync/RouteTemplates.h"

namespace leafsync {

namespace {

std::vector<std::string> pathSegments(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find_first_of("/?", start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    if (end < path.size() && path[end] == '?') break;
    start = end + 1;
  }
  return segments;
}

bool isParameter(const std::string& segment) { return segment.front() == ':'; }

}  // namespace

void RouteTemplates::add(std::string_view path_template, std::string_view methods) {
  std::vector<std::string> segments = pathSegments(path_template);
  std::string label;
  for (std::string& segment : segments) {
    if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}') {
      segment = ":" + segment.substr(1, segment.size() - 2);
    }
    label += "/" + segment;
  }
  if (label.empty() || path_template.back() == '/') label += "/";
  for (Route& route : routes_) {
    if (route.label == label) {
      route.methods += ", " + std::string(methods);
      return;
    }
  }
  Route route{label, std::string(methods), segments, 0};
  for (const std::string& segment : route.segments) route.fixed += isParameter(segment) ? 0 : 1;
  routes_.push_back(std::move(route));
}

const RouteTemplates::Route* RouteTemplates::match(std::string_view resource) const {
  std::vector<std::string> segments = pathSegments(resource);
  const Route* best = nullptr;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size() || (best && best->fixed >= route.fixed)) continue;
    bool matches = true;
    for (std::size_t i = 0; matches && i < segments.size(); ++i) {
      matches = isParameter(route.segments[i]) || route.segments[i] == segments[i];
    }
    if (matches) best = &route;
  }
  return best;
}

const std::string& RouteTemplates::labelFor(std::string_view resource) const {
  static const std::string unmatched = kUnmatched;
  const Route* route = match(resource);
  return route ? route->label : unmatched;
}

}  // namespace leafsync
