#include "ImageApi.h"

#include <nlohmann/json.hpp>

#include "ImageWrites.h"
#include "leafsync/DocsUi.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/ImageJson.h"
#include "leafsync/ImageReadRoutes.h"
#include "leafsync/Log.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

bool constantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ b[i]);
  }
  return diff == 0;
}

ImageApi::ImageApi(ConnectionPool<SourceStore>& stores, ProducerMetrics& metrics, std::string write_token,
                   std::size_t max_body_bytes, std::function<void()> on_write)
    : stores_(stores),
      metrics_(metrics),
      write_token_(std::move(write_token)),
      max_body_bytes_(max_body_bytes),
      on_write_(std::move(on_write)) {}

void ImageApi::registerRoutes(RouteTable& routes, const ReadLimits& limits) {
  registerImageReadRoutes(routes, [this](const std::function<void(ImageReader&)>& use) {
    auto store = stores_.acquire();
    use(*store);
  }, limits);

  registerOpenApiRoute(routes, "producer");
  routes.get(kLivenessPath, guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Code::Ok, R"({"status":"alive"})");
  }));
  routes.get(kReadinessPath, guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    try {
      auto store = stores_.acquire();
      store->ping();
      sendJson(req, res, Code::Ok, R"({"ready":true,"waiting_for":[]})");
    } catch (const StoreError& e) {
      nlohmann::json body = {{"ready", false}, {"waiting_for", {std::string("database: ") + e.what()}}};
      sendJson(req, res, Code::Service_Unavailable, body.dump());
    }
  }));
  routes.get(kMetricsPath, guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    sendText(req, res, Code::Ok, metrics_.serialize(), Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }));

  // Checks what every write needs; answers and returns nothing when the request is refused.
  auto admit = [this](const Rest::Request& req, Http::ResponseWriter& res) -> std::optional<Plant> {
    if (!write_token_.empty()) {
      auto raw = req.headers().tryGetRaw("Authorization");
      std::string given = raw ? raw->value() : "";
      if (!constantTimeEquals(given, "Bearer " + write_token_)) {
        metrics_.write_errors.Increment();
        res.headers().add(std::make_shared<ResponseHeader>("WWW-Authenticate", "Bearer"));
        sendError(req, res, Code::Unauthorized, "writes need 'Authorization: Bearer <token>'");
        return std::nullopt;
      }
    }
    auto plant = plantParam(req);
    if (!plant) {
      metrics_.write_errors.Increment();
      sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
      return std::nullopt;
    }
    if (req.body().size() > max_body_bytes_) {
      metrics_.write_errors.Increment();
      sendError(req, res, Code::Request_Entity_Too_Large,
                "body of " + std::to_string(req.body().size()) + " bytes exceeds the limit of " +
                    std::to_string(max_body_bytes_));
      return std::nullopt;
    }
    return plant;
  };
  auto refuse = [this](const Rest::Request& req, Http::ResponseWriter& res, const RequestError& error) {
    metrics_.write_errors.Increment();
    sendError(req, res, static_cast<Code>(error.status), error.detail);
  };
  auto answer = [this](const Rest::Request& req, Http::ResponseWriter& res, std::int64_t version,
                       const std::string& body) {
    on_write_();
    res.headers().add(std::make_shared<ResponseHeader>(kVersionHeader, std::to_string(version)));
    sendJson(req, res, Code::Ok, body);
  };

  routes.put("/image-plant/:plant/", guarded([=](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = admit(req, res);
    if (!plant) return;
    auto parsed = parseCreateRequest(req.body());
    if (auto* error = std::get_if<RequestError>(&parsed)) return refuse(req, res, *error);
    ImageRecord image;
    {
      auto store = stores_.acquire();
      image = store->create(*plant, std::get<NewImage>(parsed));
    }
    metrics_.write(Op::Create).Increment();
    answer(req, res, image.version, imageJson(image));
  }));

  routes.post("/image-plant/:plant/", guarded([=](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = admit(req, res);
    if (!plant) return;
    auto parsed = parseUpdateRequest(req.body());
    if (auto* error = std::get_if<RequestError>(&parsed)) return refuse(req, res, *error);
    const ImageChange& change = std::get<ImageChange>(parsed);
    std::optional<ImageRecord> image;
    {
      auto store = stores_.acquire();
      image = store->update(*plant, change);
    }
    if (!image) {
      return refuse(req, res, {404, std::string(plantName(*plant)) + " image " + std::to_string(change.id) + " not found"});
    }
    metrics_.write(Op::Update).Increment();
    answer(req, res, image->version, imageJson(*image));
  }));

  routes.del("/image-plant/:plant/:id", guarded([=](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = admit(req, res);
    if (!plant) return;
    auto id = idParam(req);
    if (!id) {
      return refuse(req, res, {422, "image id must be a positive integer, got '" + req.param(":id").as<std::string>() + "'"});
    }
    std::optional<std::int64_t> version;
    {
      auto store = stores_.acquire();
      version = store->remove(*plant, *id);
    }
    if (!version) return refuse(req, res, {404, std::string(plantName(*plant)) + " image " + std::to_string(*id) + " not found"});
    metrics_.write(Op::Delete).Increment();
    answer(req, res, *version, R"({"message":"Image deleted successfully"})");
  }));
}

}  // namespace leafsync
