#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "leafsync/RouteTemplates.h"

namespace leafsync {

// Why the RequestGate refused a request, before any route saw it: the `reason` label of
// leafsync_http_refused_total (docs/metrics.md lists them with their codes).
enum class Refused {
  BodyTooLarge,          // 413
  BadContentLength,      // 400
  BadRequestLine,        // 400: empty, malformed, bad method token, target or version
  BareLf,                // 400
  BadHeader,             // 400: malformed or folded header line
  MalformedRequest,      // 400: what Pistache's parser refused after the gate's checks
  HeadersTooLarge,       // 431
  UnknownMethod,         // 405
  HeaderTimeout,         // 408
  BodyTimeout,           // 408
  VersionNotSupported,   // 505
  TransferEncoding,      // 411
  UnknownExpectation,    // 417
};

// The HTTP families of a service's /metrics, on its registry: every routed answer by route
// template, method and code, its latency by route, and every refusal of the gate. Thread-safe.
class HttpMetrics {
 public:
  HttpMetrics(prometheus::Registry& registry, const RouteTemplates& routes);

  // An answer to a routed request, `seconds` from the request read whole to its answer queued.
  void answered(const std::string& route, std::string_view method, int code, double seconds);
  void refused(Refused reason);

  static int codeOf(Refused reason);
  static const char* nameOf(Refused reason);

 private:
  // A route's series. Its counters are found again without the family's Add, which builds
  // and hashes a label set per call (measured: /ping at 0.94 of its rate without metrics
  // through Add, 1.02 with this; docs/api.md).
  struct RouteSeries {
    prometheus::Histogram* duration = nullptr;
    std::mutex mutex;
    struct Answer {
      std::string method;
      int code;
      prometheus::Counter* counter;
    };
    std::vector<Answer> answers;  // few: the route's methods × the codes it answers
  };

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& refused_family_;
  std::unordered_map<std::string, std::unique_ptr<RouteSeries>> routes_;  // the map is read-only once built
  std::unordered_map<int, prometheus::Counter*> refused_;                // by Refused
};

}  // namespace leafsync
