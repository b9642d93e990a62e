#pragma once

#include <pistache/endpoint.h>
#include <pistache/router.h>

#include <cstdint>
#include <memory>

#include "leafsync/RequestGate.h"
#include "leafsync/RouteTable.h"
#include "leafsync/RouteTemplates.h"

namespace prometheus {
class Registry;
}

namespace leafsync {

// A request for a path of `routes` with a method the router does not take: JSON 405 with
// Allow. (HttpServer::start adds it for every route registered.)
void registerMethodNotAllowed(Pistache::Rest::Router& router, const RouteTemplates& routes);

// Owns a Pistache endpoint serving a router on 0.0.0.0:port (port 0 picks a free one),
// behind a RequestGate with HttpLimits' timeouts and `max_body_bytes`; the HttpMetrics
// families go on `registry` (the service's /metrics), answers counted by the templates of
// `routes` given to start().
class HttpServer {
 public:
  HttpServer(std::uint16_t port, int threads, std::size_t max_body_bytes, prometheus::Registry& registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start(RouteTable& routes);
  std::uint16_t port() const;

 private:
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
  HttpLimits limits_;
  prometheus::Registry& registry_;
  std::shared_ptr<RequestGate> gate_;
  bool started_ = false;
};

}  // namespace leafsync
