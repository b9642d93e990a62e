#include "leafsync/OpenApi.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace leafsync {

std::string openApiDocumentFor(std::string_view service) {
  nlohmann::ordered_json document = nlohmann::ordered_json::parse(kOpenApiDocument, nullptr, false);
  if (document.is_discarded()) throw std::invalid_argument("the compiled-in OpenAPI document is not JSON");
  auto& paths = document["paths"];
  for (auto path = paths.begin(); path != paths.end();) {
    auto& operations = path.value();
    for (auto op = operations.begin(); op != operations.end();) {
      const auto* services = op->is_object() && op->contains("x-leafsync-services") ? &(*op)["x-leafsync-services"] : nullptr;
      bool served = !services || std::find(services->begin(), services->end(), service) != services->end();
      op = served ? std::next(op) : operations.erase(op);
    }
    path = operations.empty() ? paths.erase(path) : std::next(path);
  }
  return document.dump();
}

}  // namespace leafsync
