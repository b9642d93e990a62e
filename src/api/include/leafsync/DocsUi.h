#pragma once

#include <string>

#include "leafsync/RouteTable.h"

namespace leafsync {

// GET /openapi.json: docs/openapi.json as `service` ("consumer", "producer") serves it; and
// the interactive docs over it (registerDocsRoutes).
void registerOpenApiRoute(RouteTable& routes, const std::string& service);

// GET /docs (Swagger UI) and /redoc (ReDoc), their files compiled in (DocsUi.cpp).
void registerDocsRoutes(RouteTable& routes);

}  // namespace leafsync
