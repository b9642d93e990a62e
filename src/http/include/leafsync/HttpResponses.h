#pragma once

// How every leafsync service answers over Pistache: JSON bodies, the seed's error shape, the
// connection handling Pistache 0.0.5 gets wrong. Pistache headers are heavy: include this only
// from HTTP translation units.

#include <pistache/http.h>
#include <pistache/router.h>

#include <functional>
#include <string>

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

// {"detail": "..."}: the error shape of the seed's FastAPI services.
void sendError(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
               Pistache::Http::Code code, const std::string& detail);

std::string errorBody(const std::string& detail);

// Wraps a handler so it always answers JSON: 503 when the database fails, 500 otherwise.
using HttpHandler = std::function<void(const Pistache::Rest::Request&, Pistache::Http::ResponseWriter&)>;
Pistache::Rest::Route::Handler guarded(HttpHandler handler);

}  // namespace leafsync
