#include "leafsync/HttpMetrics.h"

namespace leafsync {

namespace {

constexpr Refused kAllRefusals[] = {
    Refused::BodyTooLarge,  Refused::BadContentLength, Refused::BadRequestLine,      Refused::BareLf,
    Refused::BadHeader,     Refused::MalformedRequest, Refused::HeadersTooLarge,     Refused::UnknownMethod,
    Refused::HeaderTimeout, Refused::BodyTimeout,      Refused::VersionNotSupported, Refused::TransferEncoding,
    Refused::UnknownExpectation,
};

}  // namespace

int HttpMetrics::codeOf(Refused reason) {
  switch (reason) {
    case Refused::BodyTooLarge: return 413;
    case Refused::BadContentLength:
    case Refused::BadRequestLine:
    case Refused::BareLf:
    case Refused::BadHeader:
    case Refused::MalformedRequest: return 400;
    case Refused::HeadersTooLarge: return 431;
    case Refused::UnknownMethod: return 405;
    case Refused::HeaderTimeout:
    case Refused::BodyTimeout: return 408;
    case Refused::VersionNotSupported: return 505;
    case Refused::TransferEncoding: return 411;
    case Refused::UnknownExpectation: return 417;
  }
  return 400;
}

const char* HttpMetrics::nameOf(Refused reason) {
  switch (reason) {
    case Refused::BodyTooLarge: return "body_too_large";
    case Refused::BadContentLength: return "bad_content_length";
    case Refused::BadRequestLine: return "bad_request_line";
    case Refused::BareLf: return "bare_lf";
    case Refused::BadHeader: return "bad_header";
    case Refused::MalformedRequest: return "malformed_request";
    case Refused::HeadersTooLarge: return "headers_too_large";
    case Refused::UnknownMethod: return "unknown_method";
    case Refused::HeaderTimeout: return "header_timeout";
    case Refused::BodyTimeout: return "body_timeout";
    case Refused::VersionNotSupported: return "version_not_supported";
    case Refused::TransferEncoding: return "transfer_encoding";
    case Refused::UnknownExpectation: return "unknown_expectation";
  }
  return "unknown";
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry, const RouteTemplates& routes)
    : requests_(prometheus::BuildCounter()
                    .Name("leafsync_http_requests_total")
                    .Help("HTTP answers to routed requests, by route template, method and status code")
                    .Register(registry)),
      refused_family_(prometheus::BuildCounter()
                          .Name("leafsync_http_refused_total")
                          .Help("HTTP requests the request gate refused before routing, by status code and reason")
                          .Register(registry)) {
  auto& durations = prometheus::BuildHistogram()
                        .Name("leafsync_http_request_duration_seconds")
                        .Help("From an HTTP request read whole to its answer queued, by route template")
                        .Register(registry);
  // Reads take under a millisecond; a forwarded write waits for its apply (up to seconds).
  const prometheus::Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,    0.25,  0.5,    1,     2.5,   5,     10};
  std::vector<std::string> labels{RouteTemplates::kUnmatched};
  for (const RouteTemplates::Route& route : routes.routes()) labels.push_back(route.label);
  for (const std::string& label : labels) {
    auto series = std::make_unique<RouteSeries>();
    series->duration = &durations.Add({{"route", label}}, buckets);
    routes_.emplace(label, std::move(series));
  }
  // Every reason from the start at 0, so that rate() and alerts see the first refusal.
  for (Refused reason : kAllRefusals) {
    refused_.emplace(static_cast<int>(reason), &refused_family_.Add({{"code", std::to_string(codeOf(reason))},
                                                                     {"reason", nameOf(reason)}}));
  }
}

void HttpMetrics::answered(const std::string& route, std::string_view method, int code, double seconds) {
  auto it = routes_.find(route);
  if (it == routes_.end()) {  // not one of the templates given at construction
    requests_.Add({{"route", route}, {"method", std::string(method)}, {"code", std::to_string(code)}}).Increment();
    return;
  }
  RouteSeries& series = *it->second;
  series.duration->Observe(seconds);
  std::lock_guard<std::mutex> lock(series.mutex);
  for (const RouteSeries::Answer& answer : series.answers) {
    if (answer.code == code && answer.method == method) return answer.counter->Increment();
  }
  auto& counter = requests_.Add({{"route", route}, {"method", std::string(method)}, {"code", std::to_string(code)}});
  series.answers.push_back({std::string(method), code, &counter});
  counter.Increment();
}

void HttpMetrics::refused(Refused reason) { refused_.at(static_cast<int>(reason))->Increment(); }

}  // namespace leafsync
