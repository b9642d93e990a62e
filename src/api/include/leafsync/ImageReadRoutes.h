#pragma once

// The seed's API as the image-api and the copy both serve it: its read routes and the pieces
// its write routes share.

#include <pistache/router.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "leafsync/Plant.h"
#include "leafsync/ReadLimits.h"
#include "leafsync/RouteTable.h"

namespace leafsync {

// The version a write produced, so the copy can wait until it has applied it.
inline constexpr const char* kVersionHeader = "X-Leafsync-Version";

// Route parameters as Pistache 0.0.5 gives them (raw, not URL-decoded), checked by us
// because its own conversion turns a bad value into a 500.
std::optional<Plant> plantParam(const Pistache::Rest::Request& request);
std::optional<std::int64_t> idParam(const Pistache::Rest::Request& request);
std::optional<std::int64_t> parsePositiveId(std::string_view text);

std::string unknownPlantDetail(std::string_view name);

class ImageReader;
// Runs `use` with a reader borrowed for one request.
using WithReader = std::function<void(const std::function<void(ImageReader&)>& use)>;

// The seed's read endpoints, the same on the image-api and on the copy: /ping,
// /image-plant/is-deployed/, /image-plant/{plant}/total/, /image-plant/{plant}/{id}, the
// paginated listing /image-plant/{plant}/?after_id=&limit=, and a JSON 404 for other paths.
// `limits` bound what a listing or an image read builds (docs/api.md, "Response limits").
void registerImageReadRoutes(RouteTable& routes, WithReader with_reader, const ReadLimits& limits);

}  // namespace leafsync
