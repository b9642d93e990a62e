#include "ReadApi.h"

#include <nlohmann/json.hpp>

#include "leafsync/HttpSupport.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

using Handler = std::function<void(const Rest::Request&, Http::ResponseWriter&)>;

// Every handler answers JSON even when the database is down or something throws.
Rest::Route::Handler guarded(Handler handler) {
  return [handler = std::move(handler)](const Rest::Request request, Http::ResponseWriter response) {
    try {
      handler(request, response);
    } catch (const StoreError& e) {
      logEvent(LogLevel::Error, "http_store_error", {{"resource", request.resource()}, {"error", e.what()}});
      sendError(request, response, Code::Service_Unavailable, "the copy's database is unavailable");
    } catch (const std::exception& e) {
      logEvent(LogLevel::Error, "http_error", {{"resource", request.resource()}, {"error", e.what()}});
      sendError(request, response, Code::Internal_Server_Error, "internal error");
    }
    return Rest::Route::Result::Ok;
  };
}

nlohmann::json isoOrNull(std::int64_t ms) {
  return ms > 0 ? nlohmann::json(isoTimestamp(ms * 1000) + "Z") : nlohmann::json(nullptr);
}

}  // namespace

ReadApi::ReadApi(StorePool& stores, ConsumerMetrics& metrics, SyncStatus& status,
                 std::vector<std::string> topics, std::string producer_url)
    : stores_(stores),
      metrics_(metrics),
      status_(status),
      topics_(std::move(topics)),
      producer_url_(std::move(producer_url)) {}

void ReadApi::registerRoutes(Rest::Router& router) {
  Rest::Routes::Get(router, "/ping", guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Code::Ok, "\"Hello, I am alive\"");
  }));

  Rest::Routes::Get(router, "/healthz", guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Code::Ok, R"({"status":"alive"})");
  }));

  Rest::Routes::Get(router, "/readyz", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    std::vector<std::string> waiting;
    for (const std::string& topic : topics_) {
      if (!status_.joined(topic)) waiting.push_back("topic '" + topic + "' has no assignment yet");
    }
    try {
      auto store = stores_.acquire();
      store->ping();
    } catch (const StoreError& e) {
      waiting.push_back(std::string("database: ") + e.what());
    }
    nlohmann::json body = {{"ready", waiting.empty()}, {"waiting_for", waiting}};
    sendJson(req, res, waiting.empty() ? Code::Ok : Code::Service_Unavailable, body.dump());
  }));

  Rest::Routes::Get(router, "/metrics", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    sendText(req, res, Code::Ok, metrics_.serialize(),
             Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }));

  Rest::Routes::Get(router, "/sync-status", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    nlohmann::json partitions = nlohmann::json::array();
    std::int64_t total_lag = 0;
    for (const PartitionStatus& p : status_.partitions()) {
      std::int64_t lag = p.lag();
      if (lag > 0) total_lag += lag;
      partitions.push_back({{"topic", p.topic},
                            {"partition", p.partition},
                            {"next_offset", p.next_offset >= 0 ? nlohmann::json(p.next_offset) : nlohmann::json(nullptr)},
                            {"high_watermark", p.high_watermark >= 0 ? nlohmann::json(p.high_watermark) : nlohmann::json(nullptr)},
                            {"lag", lag >= 0 ? nlohmann::json(lag) : nlohmann::json(nullptr)},
                            {"last_applied_at", isoOrNull(p.last_applied_ms)},
                            {"last_event_at", isoOrNull(p.last_event_ts_ms)}});
    }
    nlohmann::json body = {{"partitions", partitions}, {"total_lag", total_lag}};
    sendJson(req, res, Code::Ok, body.dump());
  }));

  Rest::Routes::Get(router, "/image-plant/is-deployed/", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    auto store = stores_.acquire();
    store->ping();
    sendJson(req, res, Code::Ok, R"({"is_deployed":true})");
  }));

  Rest::Routes::Get(router, "/image-plant/:plant/total/", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    auto store = stores_.acquire();
    sendJson(req, res, Code::Ok, nlohmann::json{{"total_images", store->count(*plant)}}.dump());
  }));

  Rest::Routes::Get(router, "/image-plant/:plant/", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    std::int64_t after_id = 0;
    int limit = kDefaultPageSize;
    if (auto text = req.query().get("after_id")) {
      auto parsed = text->empty() || *text == "0" ? std::optional<std::int64_t>(0) : parsePositiveId(*text);
      if (!parsed) return sendError(req, res, Code::Unprocessable_Entity, "query 'after_id' must be a non-negative integer");
      after_id = *parsed;
    }
    if (auto text = req.query().get("limit")) {
      auto parsed = parsePositiveId(*text);
      if (!parsed || *parsed > kMaxPageSize) {
        return sendError(req, res, Code::Unprocessable_Entity, "query 'limit' must be an integer in [1, 1000]");
      }
      limit = static_cast<int>(*parsed);
    }
    auto store = stores_.acquire();
    auto images = store->list(*plant, after_id, limit);
    std::string body = "{\"items\":[";
    for (std::size_t i = 0; i < images.size(); ++i) {
      if (i) body += ',';
      body += imageJson(images[i]);
    }
    body += "],\"next_after_id\":";
    body += images.size() == static_cast<std::size_t>(limit) ? std::to_string(images.back().id) : "null";
    body += '}';
    sendJson(req, res, Code::Ok, body);
  }));

  Rest::Routes::Get(router, "/image-plant/:plant/:id", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    auto id = idParam(req);
    if (!id) return sendError(req, res, Code::Unprocessable_Entity, "image id must be a positive integer, got '" + req.param(":id").as<std::string>() + "'");
    auto store = stores_.acquire();
    auto image = store->find(*plant, *id);
    if (!image) {
      return sendError(req, res, Code::Not_Found, std::string(plantName(*plant)) + " image " + std::to_string(*id) + " not found");
    }
    sendJson(req, res, Code::Ok, imageJson(*image));
  }));

  auto refuseWrite = guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    std::string where = producer_url_.empty()
                            ? "the producer's image-api (leafsync-producer); this consumer has no producer_url configured"
                            : "the producer's image-api at " + producer_url_;
    sendError(req, res, Code::Method_Not_Allowed, "this service is a read copy: send writes to " + where);
  });
  Rest::Routes::Put(router, "/image-plant/:plant/", refuseWrite);
  Rest::Routes::Post(router, "/image-plant/:plant/", refuseWrite);
  Rest::Routes::Delete(router, "/image-plant/:plant/:id", refuseWrite);

  router.addNotFoundHandler(guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendError(req, res, Code::Not_Found, "no route for " + std::string(Http::methodString(req.method())) + " " + req.resource());
  }));
}

}  // namespace leafsync
