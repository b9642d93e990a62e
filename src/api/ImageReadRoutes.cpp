#include "leafsync/ImageReadRoutes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "leafsync/HttpResponses.h"
#include "leafsync/ImageJson.h"
#include "leafsync/Log.h"
#include "leafsync/ResponseSlots.h"
#include "leafsync/StreamedResponse.h"
#include "leafsync/Store.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Rows read per query of a listing at first, before their size is known.
constexpr int kFirstChunkRows = 2;

void refuseLargeResponse(const Rest::Request& req, Http::ResponseWriter& res, const ReadLimits& limits) {
  res.headers().add(std::make_shared<ResponseHeader>("Retry-After", std::to_string(kLargeResponseRetryAfterS)));
  sendError(req, res, Code::Service_Unavailable,
            "too many large responses are being sent at once (at most " + std::to_string(limits.large_response_slots) +
                " of more than " + std::to_string(limits.large_response_bytes) + " bytes); retry shortly");
}

// Writes the listing's body into `out`, reading rows in chunks sized from the rows seen so far
// so that the rows in memory never hold much more than the room left in the body: it ends at
// `limit` rows, at the end of the plant, or before the row that would take it past
// `max_bytes`; then next_after_id is the last id it holds (the client continues from there),
// null at the end. False when the body grew large and no slot was free (nothing was sent).
bool writePage(ImageReader& reader, Plant plant, std::int64_t after_id, int limit, std::size_t max_bytes,
               StreamedResponse& out) {
  std::size_t body = 0;  // bytes of the body so far
  auto put = [&](std::string_view text) {
    body += text.size();
    return out.append(text);
  };
  constexpr std::size_t kTail = 48;  // ],"next_after_id":<id>}
  if (!put("{\"items\":[")) return false;
  int rows = 0;
  std::int64_t last_id = after_id;
  bool more = true;      // the plant may hold rows after last_id
  bool cut = false;      // stopped by the byte limit
  int chunk = std::min(limit, kFirstChunkRows);
  while (rows < limit && more && !cut) {
    std::vector<ImageRecord> images = reader.list(plant, last_id, std::min(chunk, limit - rows));
    more = images.size() == static_cast<std::size_t>(std::min(chunk, limit - rows));
    for (ImageRecord& image : images) {
      ImageJsonParts parts = imageJsonParts(image);
      const std::size_t item = parts.head.size() + 2 * image.data.size() + parts.tail.size();
      if (rows > 0 && body + 1 + item + kTail > max_bytes) {
        cut = true;
        break;
      }
      if (rows > 0 && !put(",")) return false;
      if (!put(parts.head)) return false;
      body += 2 * image.data.size();
      if (!out.appendHex(image.data)) return false;
      if (!put(parts.tail)) return false;
      last_id = image.id;
      image = ImageRecord{};  // its bytes are on their way
      ++rows;
    }
    if (rows > 0) {
      // Half as many rows as would fill what is left, at the average size so far: their
      // bytes (half their hex JSON) stay within a quarter of the page.
      std::size_t average = body / static_cast<std::size_t>(rows);
      std::size_t room = max_bytes > body ? max_bytes - body : 0;
      chunk = static_cast<int>(std::clamp<std::size_t>(room / std::max<std::size_t>(2 * average, 1), 1, kMaxPageSize));
    }
  }
  std::string end = "],\"next_after_id\":";
  end += (cut || (rows == limit && rows > 0)) ? std::to_string(last_id) : "null";
  end += '}';
  return put(end);
}

// Runs `write`, which builds a body into `out`, and sends it; a 503 when it grew large and no
// slot was free. A failure once the body is streaming cannot become an error response: the
// connection is closed instead (StreamedResponse::abort).
void sendStreamed(const Rest::Request& req, Http::ResponseWriter& res, const ReadLimits& limits, ResponseSlots& slots,
                  const std::function<bool(StreamedResponse&)>& write) {
  // Past max_response_bytes a body always streams, so the slots bound every large body.
  StreamedResponse out(req, res, slots,
                       static_cast<std::size_t>(std::min(limits.large_response_bytes, limits.max_response_bytes)));
  bool written = false;
  try {
    written = write(out);
  } catch (const std::exception& e) {
    if (!out.streaming()) throw;  // nothing sent yet: guarded() answers it
    out.abort(e.what());
    return;
  }
  if (!written) return refuseLargeResponse(req, res, limits);
  out.finish();
}

}  // namespace

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

void registerImageReadRoutes(RouteTable& routes, WithReader with_reader, const ReadLimits& limits) {
  auto slots = std::make_shared<ResponseSlots>(static_cast<std::size_t>(limits.large_response_slots));
  routes.get("/ping", guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Code::Ok, "\"Hello, I am alive\"");
  }));

  routes.get("/image-plant/is-deployed/", guarded([with_reader](const Rest::Request& req, Http::ResponseWriter& res) {
    with_reader([&](ImageReader& reader) { reader.ping(); });
    sendJson(req, res, Code::Ok, R"({"is_deployed":true})");
  }));

  routes.get("/image-plant/:plant/total/", guarded([with_reader](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    std::int64_t total = 0;
    with_reader([&](ImageReader& reader) { total = reader.count(*plant); });
    sendJson(req, res, Code::Ok, nlohmann::json{{"total_images", total}}.dump());
  }));

  routes.get("/image-plant/:plant/", guarded([with_reader, slots, limits](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    std::int64_t after_id = 0;
    int limit = kDefaultPageSize;
    if (auto text = req.query().get("after_id")) {
      auto parsed = *text == "0" ? std::optional<std::int64_t>(0) : parsePositiveId(*text);
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
    sendStreamed(req, res, limits, *slots, [&](StreamedResponse& out) {
      bool written = false;
      with_reader([&](ImageReader& reader) {
        written = writePage(reader, *plant, after_id, limit, static_cast<std::size_t>(limits.max_response_bytes), out);
      });
      return written;
    });
  }));

  routes.get("/image-plant/:plant/:id", guarded([with_reader, slots, limits](const Rest::Request& req, Http::ResponseWriter& res) {
    auto plant = plantParam(req);
    if (!plant) return sendError(req, res, Code::Not_Found, unknownPlantDetail(req.param(":plant").as<std::string>()));
    auto id = idParam(req);
    if (!id) {
      return sendError(req, res, Code::Unprocessable_Entity,
                       "image id must be a positive integer, got '" + req.param(":id").as<std::string>() + "'");
    }
    std::optional<ImageRecord> image;
    with_reader([&](ImageReader& reader) { image = reader.find(*plant, *id); });
    if (!image) {
      return sendError(req, res, Code::Not_Found, std::string(plantName(*plant)) + " image " + std::to_string(*id) + " not found");
    }
    // Its hex goes out a piece at a time: the image's bytes plus what the client has not read.
    sendStreamed(req, res, limits, *slots, [&](StreamedResponse& out) {
      ImageJsonParts parts = imageJsonParts(*image);
      return out.append(parts.head) && out.appendHex(image->data) && out.append(parts.tail);
    });
  }));

  routes.router().addNotFoundHandler(guarded([](const Rest::Request& req, Http::ResponseWriter& res) {
    sendError(req, res, Code::Not_Found, "no route for " + std::string(Http::methodString(req.method())) + " " + req.resource());
  }));
}

}  // namespace leafsync
