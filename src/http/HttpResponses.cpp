#include "leafsync/HttpResponses.h"

#include <pistache/peer.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "leafsync/Log.h"
#include "leafsync/RequestGate.h"
#include "leafsync/Store.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

bool clientWantsClose(const Rest::Request& request) {
  auto connection = request.headers().tryGet<Http::Header::Connection>();
  if (request.version() == Http::Version::Http10) {
    return !connection || connection->control() != Http::ConnectionControl::KeepAlive;
  }
  return connection && connection->control() == Http::ConnectionControl::Close;
}

void send(const Rest::Request& request, Http::ResponseWriter& response, Http::Code code,
          const std::string& body, const Http::Mime::MediaType& mime) {
  bool close = setConnectionHeader(request, response);
  auto peer = response.getPeer();
  response.send(code, body, mime)
      .then(
          [peer, close](ssize_t) {
            // Half-close once the response is written: the client reads EOF, closes, and
            // Pistache then reaps the connection.
            if (close && peer) ::shutdown(peer->fd(), SHUT_WR);
          },
          [](std::exception_ptr) {});
  // Queued: the gate may hand on the connection's next pipelined request.
  RequestGate::answered(peer, code, close);
}

}  // namespace

bool setConnectionHeader(const Rest::Request& request, Http::ResponseWriter& response) {
  bool close = clientWantsClose(request);
  auto& headers = response.headers();
  headers.remove<Http::Header::Connection>();
  headers.add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                              : Http::ConnectionControl::KeepAlive);
  return close;
}

void sendJson(const Rest::Request& request, Http::ResponseWriter& response, Http::Code code,
              const std::string& body) {
  send(request, response, code, body, MIME(Application, Json));
}

void sendText(const Rest::Request& request, Http::ResponseWriter& response, Http::Code code,
              const std::string& body, const Http::Mime::MediaType& mime) {
  send(request, response, code, body, mime);
}

std::string errorBody(const std::string& detail) {
  return nlohmann::json{{"detail", detail}}.dump();
}

void sendError(const Rest::Request& request, Http::ResponseWriter& response, Http::Code code,
               const std::string& detail) {
  sendJson(request, response, code, errorBody(detail));
}

Rest::Route::Handler guarded(HttpHandler handler) {
  return [handler = std::move(handler)](const Rest::Request request, Http::ResponseWriter response) {
    try {
      handler(request, response);
    } catch (const StoreError& e) {
      logEvent(LogLevel::Error, "http_store_error", {{"resource", request.resource()}, {"error", e.what()}});
      sendError(request, response, Code::Service_Unavailable, "the database is unavailable");
    } catch (const std::exception& e) {
      logEvent(LogLevel::Error, "http_error", {{"resource", request.resource()}, {"error", e.what()}});
      sendError(request, response, Code::Internal_Server_Error, "internal error");
    }
    return Rest::Route::Result::Ok;
  };
}

}  // namespace leafsync
