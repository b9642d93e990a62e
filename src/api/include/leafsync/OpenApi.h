#pragma once

#include <string>
#include <string_view>

namespace leafsync {

// docs/openapi.json, compiled in: the API both services serve.
extern const char* const kOpenApiDocument;

// The document as `service` ("consumer" or "producer") serves it: operations marked
// x-leafsync-services without that service are left out. Throws std::invalid_argument for a
// document that is not valid JSON (a broken build, caught by the tests).
std::string openApiDocumentFor(std::string_view service);

}  // namespace leafsync
