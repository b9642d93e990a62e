#include "ReadApi.h"

#include <nlohmann/json.hpp>

#include "leafsync/HttpSupport.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

nlohmann::json isoOrNull(std::int64_t ms) {
  return ms > 0 ? nlohmann::json(isoTimestamp(ms * 1000) + "Z") : nlohmann::json(nullptr);
}

}  // namespace

ReadApi::ReadApi(ConnectionPool<Store>& stores, ConsumerMetrics& metrics, SyncStatus& status,
                 std::vector<std::string> topics, std::string producer_url)
    : stores_(stores),
      metrics_(metrics),
      status_(status),
      topics_(std::move(topics)),
      producer_url_(std::move(producer_url)) {}

void ReadApi::registerRoutes(Rest::Router& router) {
  registerImageReadRoutes(router, [this](const std::function<void(ImageReader&)>& use) {
    auto store = stores_.acquire();
    use(*store);
  });

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

  auto refuseWrite = guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    std::string where = producer_url_.empty()
                            ? "the producer's image-api (leafsync-producer); this consumer has no producer_url configured"
                            : "the producer's image-api at " + producer_url_;
    sendError(req, res, Code::Method_Not_Allowed, "this service is a read copy: send writes to " + where);
  });
  Rest::Routes::Put(router, "/image-plant/:plant/", refuseWrite);
  Rest::Routes::Post(router, "/image-plant/:plant/", refuseWrite);
  Rest::Routes::Delete(router, "/image-plant/:plant/:id", refuseWrite);

}

}  // namespace leafsync
