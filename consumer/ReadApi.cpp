#include "ReadApi.h"

#include <nlohmann/json.hpp>
#include <future>
#include <memory>

#include "leafsync/DocsUi.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/ImageReadRoutes.h"
#include "leafsync/Log.h"
#include "leafsync/Timestamp.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

// Forwarded writes waiting at once, and queued beyond those before a 503.
constexpr std::size_t kWriteThreads = 8;
constexpr std::size_t kMaxQueuedWrites = 256;

nlohmann::json isoOrNull(std::int64_t ms) {
  return ms > 0 ? nlohmann::json(isoTimestamp(ms * 1000) + "Z") : nlohmann::json(nullptr);
}

}  // namespace

ReadApi::ReadApi(ConnectionPool<Store>& stores, ConsumerMetrics& metrics, SyncStatus& status,
                 std::vector<std::string> topics, const WriteForwarder* forwarder,
                 std::chrono::milliseconds write_wait, std::int64_t ready_max_lag)
    : stores_(stores),
      metrics_(metrics),
      status_(status),
      topics_(std::move(topics)),
      forwarder_(forwarder),
      write_wait_(write_wait),
      ready_max_lag_(ready_max_lag),
      write_workers_(kWriteThreads, kMaxQueuedWrites) {}

void ReadApi::forwardWrite(const Rest::Request& req, Http::ResponseWriter& res) {
  if (!forwarder_) {
    return sendError(req, res, Code::Method_Not_Allowed,
                     "this service is a read copy: send writes to the producer's image-api "
                     "(leafsync-producer), or set LEAFSYNC_PRODUCER_URL to have them forwarded");
  }
  auto plant = plantParam(req);
  if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
  // The request is copied and the writer moved into the task: both must outlive this handler.
  auto refused = std::make_shared<bool>(false);
  std::packaged_task<void()> task([this, refused, plant = *plant, request = req, response = std::move(res)]() mutable {
    if (*refused) {
      response.headers().add(std::make_shared<ResponseHeader>("Retry-After", "1"));
      return sendError(request, response, Code::Service_Unavailable,
                       "too many forwarded writes are waiting; retry shortly");
    }
    try {
      forwardAndWait(request, response, plant);
    } catch (const StoreError& e) {
      sendError(request, response, Code::Service_Unavailable, "the database is unavailable");
    } catch (const std::exception& e) {
      logEvent(LogLevel::Error, "forwarded_write_failed", {{"error", e.what()}});
      sendError(request, response, Code::Internal_Server_Error, "internal error");
    }
  });
  if (!write_workers_.submit(task)) {
    *refused = true;
    task();
  }
}

void ReadApi::forwardAndWait(const Rest::Request& req, Http::ResponseWriter& res, Plant plant) {
  auto auth = req.headers().tryGetRaw("Authorization");
  std::string method = Http::methodString(req.method());
  ForwardedResponse forwarded = forwarder_->forward(
      method, req.resource(), req.body(), auth ? std::optional<std::string>(auth->value()) : std::nullopt);
  if (forwarded.status == 0) {
    return sendError(req, res, Code::Bad_Gateway,
                     "the producer at " + redactUrl(forwarder_->producerUrl()) + " did not answer: " + forwarded.error);
  }
  if (forwarded.status < 200 || forwarded.status >= 300 || !forwarded.version) {
    return sendJson(req, res, static_cast<Code>(forwarded.status), forwarded.body);
  }
  std::int64_t id = 0;
  if (req.method() == Http::Method::Delete) {
    id = idParam(req).value_or(0);
  } else {
    auto body = nlohmann::json::parse(forwarded.body, nullptr, false);
    if (body.is_object() && body["id"].is_number_integer()) id = body["id"].get<std::int64_t>();
  }
  auto until = std::chrono::steady_clock::now() + write_wait_;
  for (;;) {
    std::uint64_t seen = status_.commits();
    std::int64_t applied = 0;
    {
      auto store = stores_.acquire();
      applied = store->versionOf(plant, id);
    }
    if (applied >= *forwarded.version) break;
    if (std::chrono::steady_clock::now() >= until || write_workers_.stopping()) {
      return sendError(req, res, Code::Gateway_Timeout,
                       "the producer committed the write as version " + std::to_string(*forwarded.version) +
                           " but this copy has not applied it within " + std::to_string(write_wait_.count()) +
                           " ms; it will, read again later");
    }
    // Woken by the next commit; the bound covers a commit of another process (a shared copy).
    status_.waitForCommit(seen, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  }
  res.headers().add(std::make_shared<ResponseHeader>(kVersionHeader, std::to_string(*forwarded.version)));
  sendJson(req, res, static_cast<Code>(forwarded.status), forwarded.body);
}

std::vector<std::string> ReadApi::notReadyReasons() {
  std::vector<std::string> waiting = status_.notReadyReasons(topics_, ready_max_lag_);
  try {
    auto store = stores_.acquire();
    store->ping();
    // A partial update parked this long waits for a version that may never come (lost
    // upstream): data the copy lacks. A snapshot of the plant resolves it (docs/operations.md).
    const std::int64_t now_ms = nowMillis();
    for (Plant plant : kAllPlants) {
      ParkedSummary parked = store->parkedUpdates(plant);
      if (parked.oldest_parked_ms && now_ms - *parked.oldest_parked_ms > status_.stallAfterMs()) {
        waiting.push_back(std::string(plantName(plant)) + ": " + std::to_string(parked.count) +
                          " parked updates, the oldest waiting " + std::to_string((now_ms - *parked.oldest_parked_ms) / 1000) +
                          " s for the version before it");
      }
    }
  } catch (const StoreError& e) {
    waiting.push_back(std::string("database: ") + e.what());
  }
  return waiting;
}

void ReadApi::registerRoutes(RouteTable& routes, const ReadLimits& limits) {
  registerImageReadRoutes(routes, [this](const std::function<void(ImageReader&)>& use) {
    auto store = stores_.acquire();
    use(*store);
  }, limits);

  registerOpenApiRoute(routes, "consumer");

  routes.get(kLivenessPath, guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Code::Ok, R"({"status":"alive"})");
  }));

  routes.get(kReadinessPath, guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    std::vector<std::string> waiting = notReadyReasons();
    nlohmann::json body = {{"ready", waiting.empty()}, {"waiting_for", waiting}};
    sendJson(req, res, waiting.empty() ? Code::Ok : Code::Service_Unavailable, body.dump());
  }));

  routes.get(kMetricsPath, guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    sendText(req, res, Code::Ok, metrics_.serialize(),
             Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }));

  routes.get("/sync-status", guarded([this](const Rest::Request& req, Http::ResponseWriter& res) {
    nlohmann::json partitions = nlohmann::json::array();
    std::int64_t total_lag = 0;
    std::int64_t now = nowMillis();
    for (const PartitionStatus& p : status_.partitions()) {
      std::int64_t lag = p.lag();
      if (lag > 0) total_lag += lag;
      partitions.push_back({{"topic", p.topic},
                            {"partition", p.partition},
                            {"next_offset", p.next_offset >= 0 ? nlohmann::json(p.next_offset) : nlohmann::json(nullptr)},
                            {"high_watermark", p.high_watermark >= 0 ? nlohmann::json(p.high_watermark) : nlohmann::json(nullptr)},
                            {"lag", lag >= 0 ? nlohmann::json(lag) : nlohmann::json(nullptr)},
                            {"last_applied_at", isoOrNull(p.last_applied_ms)},
                            {"last_event_at", isoOrNull(p.last_event_ts_ms)},
                            {"awaiting_snapshot", p.awaiting_snapshot},
                            {"stalled", p.stalled(now, status_.stallAfterMs())},
                            {"fetch_paused", p.fetch_paused},
                            {"last_error", p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)},
                            {"last_error_at", isoOrNull(p.last_error_ms)}});
    }
    double snapshot_rows = 0;
    for (const std::string& topic : topics_) {
      snapshot_rows += metrics_.topic(topic).applied[static_cast<int>(Op::Snapshot)]->Value();
    }
    nlohmann::json body = {{"partitions", partitions},
                           {"total_lag", total_lag},
                           {"snapshot_rows_applied", static_cast<std::int64_t>(snapshot_rows)},
                           {"ready", notReadyReasons().empty()}};
    // Partial updates held in the copy for the versions before them: per plant,
    // with the age of the longest-waiting one; null when the database does not answer.
    try {
      auto store = stores_.acquire();
      nlohmann::json parked = nlohmann::json::array();
      const std::int64_t now_ms = nowMillis();
      for (Plant plant : kAllPlants) {
        ParkedSummary p = store->parkedUpdates(plant);
        parked.push_back({{"plant", std::string(plantName(plant))},
                          {"count", p.count},
                          {"oldest_age_s", p.oldest_parked_ms
                                               ? nlohmann::json(static_cast<double>(now_ms - *p.oldest_parked_ms) / 1000.0)
                                               : nlohmann::json(nullptr)}});
      }
      body["parked_updates"] = parked;
    } catch (const StoreError&) {
      body["parked_updates"] = nullptr;
    }
    sendJson(req, res, Code::Ok, body.dump());
  }));

  auto write = guarded([this](const Rest::Request& req, Http::ResponseWriter& res) { forwardWrite(req, res); });
  routes.put("/image-plant/:plant/", write);
  routes.post("/image-plant/:plant/", write);
  routes.del("/image-plant/:plant/:id", write);

}

}  // namespace leafsync
