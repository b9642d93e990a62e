#include "leafsync/HttpSupport.h"

#include <pistache/peer.h>
#include <sys/socket.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "leafsync/ByteEncoding.h"

namespace leafsync {

using namespace Pistache;

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
  bool close = clientWantsClose(request);
  auto& headers = response.headers();
  headers.remove<Http::Header::Connection>();
  headers.add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                              : Http::ConnectionControl::KeepAlive);
  auto peer = response.peer();
  response.send(code, body, mime)
      .then(
          [peer, close](ssize_t) {
            // Half-close once the response is written: the client reads EOF, closes, and
            // Pistache then reaps the connection.
            if (close && peer) ::shutdown(peer->fd(), SHUT_WR);
          },
          Async::IgnoreException);
}

}  // namespace

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

std::string imageJson(const ImageRecord& image) {
  // Ordered as in the seed's responses.
  nlohmann::ordered_json j = {
      {"id", image.id},
      {"camera_id", image.camera_id},
      {"data", hexEncode(image.data)},
      {"gps_coordinates", {image.latitude, image.longitude}},
      {"created_at", image.created_at},
      {"updated_at", image.updated_at},
      {"is_active", image.is_active},
      {"is_deleted", image.is_deleted},
      {"disease", image.disease ? nlohmann::ordered_json(*image.disease) : nullptr},
      {"percentage", image.percentage ? nlohmann::ordered_json(*image.percentage) : nullptr},
  };
  return j.dump();
}

std::optional<std::int64_t> parsePositiveId(std::string_view text) {
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id < 1) {
    return std::nullopt;
  }
  return id;
}

std::optional<Plant> plantParam(const Rest::Request& request) {
  return parsePlant(request.param(":plant").as<std::string>());
}

std::optional<std::int64_t> idParam(const Rest::Request& request) {
  return parsePositiveId(request.param(":id").as<std::string>());
}

std::string unknownPlantDetail(std::string_view name) {
  return "unknown plant '" + std::string(name) + "': expected potato, tomato or pepper";
}

HttpServer::HttpServer(std::uint16_t port, int threads, std::size_t max_request_bytes)
    : endpoint_(std::make_unique<Http::Endpoint>(Address(Ipv4::any(), Port(port)))) {
  auto options = Http::Endpoint::options()
                     .threads(threads)
                     .flags(Tcp::Options::ReuseAddr)
                     .maxRequestSize(max_request_bytes);
  endpoint_->init(options);
}

HttpServer::~HttpServer() {
  if (started_) endpoint_->shutdown();
}

void HttpServer::start(Rest::Router& router) {
  endpoint_->setHandler(router.handler());
  endpoint_->serveThreaded();
  started_ = true;
}

std::uint16_t HttpServer::port() const { return static_cast<std::uint16_t>(endpoint_->getPort()); }

}  // namespace leafsync
