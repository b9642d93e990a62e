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
  for (const RouteTemplates::Route& route : routes.routes()) {
    durations_.emplace(route.label, &durations.Add({{"route", route.label}}, buckets));
  }
  durations_.emplace(RouteTemplates::kUnmatched, &durations.Add({{"route", RouteTemplates::kUnmatched}}, buckets));
  // Every reason from the start at 0, so that rate() and alerts see the first refusal.
  for (Refused reason : kAllRefusals) {
    refused_.emplace(static_cast<int>(reason), &refused_family_.Add({{"code", std::to_string(codeOf(reason))},
                                                                     {"reason", nameOf(reason)}}));
  }
}

void HttpMetrics::answered(const std::string& route, std::string_view method, int code, double seconds) {
  requests_.Add({{"route", route}, {"method", std::string(method)}, {"code", std::to_string(code)}}).Increment();
  auto it = durations_.find(route);
  if (it != durations_.end()) it->second->Observe(seconds);
}

void HttpMetrics::refused(Refused reason) { refused_.at(static_cast<int>(reason))->Increment(); }

}  // namespace leafsync
