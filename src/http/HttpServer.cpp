#include "leafsync/HttpServer.h"

#include <algorithm>

#include "leafsync/HttpMetrics.h"
#include "leafsync/HttpResponses.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

// Pistache 0.0.5 answers a known path with another method itself, in text/plain, unless a
// custom handler (which it tries before) takes the request.
void registerMethodNotAllowed(Rest::Router& router, const RouteTemplates& routes) {
  router.addCustomHandler([routes](const Rest::Request req, Http::ResponseWriter res) {
    const RouteTemplates::Route* route = routes.match(req.resource());
    if (!route) return Rest::Route::Result::Failure;  // not ours: the router's not-found handler (JSON 404)
    res.headers().add(std::make_shared<ResponseHeader>("Allow", route->methods));
    sendError(req, res, Code::Method_Not_Allowed,
              std::string("method ") + Http::methodString(req.method()) + " is not allowed on " + req.resource() +
                  ": use " + route->methods);
    return Rest::Route::Result::Ok;
  });
}

HttpServer::HttpServer(std::uint16_t port, int threads, std::size_t max_body_bytes, prometheus::Registry& registry)
    : endpoint_(std::make_unique<Http::Endpoint>(Address(Ipv4::any(), Port(port)))), registry_(registry) {
  limits_.max_body_bytes = max_body_bytes;
  // The gate hands Pistache's parser one checked request at a time, so its own limit (a
  // text/plain 413) is never what a client meets, and its parser sits at the request line
  // until then: its timer closes, without an answer, a connection idle before its first
  // request or after an answer (idle_timeout). A client silent or trickling mid-request gets
  // the gate's JSON 408 at our timeouts; Pistache's would come (bodiless) two seconds later,
  // on a connection the gate has already answered and half-closed.
  auto options = Http::Endpoint::options()
                     .threads(threads)
                     .flags(Tcp::Options::ReuseAddr)
                     .maxRequestSize(limits_.max_header_bytes + limits_.max_body_bytes + 1024)
                     .headerTimeout(std::max(limits_.header_timeout, limits_.body_timeout) + std::chrono::seconds(2))
                     .bodyTimeout(limits_.body_timeout + std::chrono::seconds(2))
                     .keepaliveTimeout(limits_.idle_timeout);
  endpoint_->init(options);
}

HttpServer::~HttpServer() {
  if (gate_) gate_->stopTimer();  // its thread calls into the transports' gates
  if (started_) endpoint_->shutdown();
}

void HttpServer::start(RouteTable& routes) {
  // The registered routes name the metrics' route labels and what a JSON 405 allows: the very
  // registrations the router answers, never a second list.
  RouteTemplates templates;
  for (const RouteTable::Route& route : routes.routes()) templates.add(route.path, route.method);
  registerMethodNotAllowed(routes.router(), templates);
  auto shared_routes = std::make_shared<const RouteTemplates>(std::move(templates));
  auto metrics = std::make_shared<HttpMetrics>(registry_, *shared_routes);
  gate_ = std::make_shared<RequestGate>(std::make_shared<Rest::Router>(routes.router()), limits_, shared_routes, metrics);
  endpoint_->setHandler(gate_);
  endpoint_->serveThreaded();
  started_ = true;
}

std::uint16_t HttpServer::port() const { return static_cast<std::uint16_t>(endpoint_->getPort()); }

}  // namespace leafsync
