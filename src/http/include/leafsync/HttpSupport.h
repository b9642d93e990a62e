#pragma once

// Pistache helpers shared by the consumer and producer APIs. Pistache headers are heavy:
// include this only from API translation units.

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "leafsync/ImageRecord.h"
#include "leafsync/Plant.h"
#include "leafsync/ReadLimits.h"
#include "leafsync/RequestGate.h"
#include "leafsync/RouteTable.h"
#include "leafsync/RouteTemplates.h"

namespace prometheus {
class Registry;
}

namespace leafsync {

// Sends a JSON body. Closes the connection after the response when the client did not ask
// for keep-alive (HTTP/1.0 without "Connection: keep-alive", or "Connection: close"):
// Pistache 0.0.5 announces the close but leaves the socket open, which hangs such clients.
void sendJson(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
              Pistache::Http::Code code, const std::string& body);
// Sets the response's Connection header from the request's; true when the connection is to
// close after the response (the sender then half-closes it once the response is written).
bool setConnectionHeader(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response);
void sendText(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
              Pistache::Http::Code code, const std::string& body,
              const Pistache::Http::Mime::MediaType& mime);

// A response header with a name chosen at run time (Pistache 0.0.5 drops addRaw headers).
class ResponseHeader : public Pistache::Http::Header::Header {
 public:
  ResponseHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_.c_str()); }
#endif

 private:
  std::string name_;
  std::string value_;
};

// The version a write produced, so the copy can wait until it has applied it.
inline constexpr const char* kVersionHeader = "X-Leafsync-Version";

// {"detail": "..."}: the error shape of the seed's FastAPI services.
void sendError(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
               Pistache::Http::Code code, const std::string& detail);

std::string errorBody(const std::string& detail);

// The seed's JSON shape of an image: data as hex, gps as [lat, lon].
std::string imageJson(const ImageRecord& image);
// The same, around its data: head + hexEncode(image.data) + tail == imageJson(image), so that
// a large image can be sent without its hex in memory at once.
struct ImageJsonParts {
  std::string head;
  std::string tail;
};
ImageJsonParts imageJsonParts(const ImageRecord& image);

// Route parameters as Pistache 0.0.5 gives them (raw, not URL-decoded), checked by us
// because its own conversion turns a bad value into a 500.
std::optional<Plant> plantParam(const Pistache::Rest::Request& request);
std::optional<std::int64_t> idParam(const Pistache::Rest::Request& request);
std::optional<std::int64_t> parsePositiveId(std::string_view text);

std::string unknownPlantDetail(std::string_view name);

// Wraps a handler so it always answers JSON: 503 when the database fails, 500 otherwise.
using HttpHandler = std::function<void(const Pistache::Rest::Request&, Pistache::Http::ResponseWriter&)>;
Pistache::Rest::Route::Handler guarded(HttpHandler handler);

class ImageReader;
// Runs `use` with a reader borrowed for one request.
using WithReader = std::function<void(const std::function<void(ImageReader&)>& use)>;

// The seed's read endpoints, the same on the image-api and on the copy: /ping,
// /image-plant/is-deployed/, /image-plant/{plant}/total/, /image-plant/{plant}/{id}, the
// paginated listing /image-plant/{plant}/?after_id=&limit=, and a JSON 404 for other paths.
// `limits` bound what a listing or an image read builds (docs/api.md, "Response limits").
void registerImageReadRoutes(RouteTable& routes, WithReader with_reader, const ReadLimits& limits);

// GET /openapi.json: docs/openapi.json as `service` ("consumer", "producer") serves it; and
// the interactive docs over it (registerDocsRoutes).
void registerOpenApiRoute(RouteTable& routes, const std::string& service);

// GET /docs (Swagger UI) and /redoc (ReDoc), their files compiled in (DocsUi.cpp).
void registerDocsRoutes(RouteTable& routes);

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
