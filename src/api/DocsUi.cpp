// /docs (Swagger UI) and /redoc (ReDoc) over the service's own /openapi.json. Their static
// files come from the npm packages cmake/DocsUi.cmake fetches, embedded here with .incbin:
// the binary serves them without any file beside it (the container image included).

#include <pistache/router.h>

#include <memory>
#include <string>
#include <string_view>

#include "leafsync/DocsUi.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/OpenApi.h"

// Each file is followed by its end symbol; the sizes come from the two addresses.
#define LEAFSYNC_EMBED(symbol, path)                                   \
  asm(".pushsection .rodata\n"                                         \
      ".balign 16\n"                                                   \
      ".global " #symbol "\n" #symbol ":\n"                            \
      ".incbin \"" path "\"\n"                                         \
      ".global " #symbol "_end\n" #symbol "_end:\n"                    \
      ".byte 0\n"                                                      \
      ".popsection\n");                                                \
  extern "C" const char symbol[];                                      \
  extern "C" const char symbol##_end[];

LEAFSYNC_EMBED(leafsync_swagger_ui_js, LEAFSYNC_SWAGGER_UI_JS)
LEAFSYNC_EMBED(leafsync_swagger_ui_css, LEAFSYNC_SWAGGER_UI_CSS)
LEAFSYNC_EMBED(leafsync_redoc_js, LEAFSYNC_REDOC_JS)

namespace leafsync {

using namespace Pistache;

namespace {

// The bundles stay where the loader mapped them (14 MB that are only paged in when served);
// a copy on the heap at start-up would count against the consumer's memory budget.
std::string_view embedded(const char* begin, const char* end) {
  return std::string_view(begin, static_cast<std::size_t>(end - begin));
}

const char* const kSwaggerPage = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leafsync image API: Swagger UI</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script>
</body>
</html>
)";

const char* const kRedocPage = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leafsync image API: ReDoc</title>
</head>
<body>
<redoc spec-url="/openapi.json" disable-telemetry="true"></redoc>
<script type="module" src="/redoc/redoc.standalone.js"></script>
</body>
</html>
)";

void serve(RouteTable& routes, const std::string& path, std::string_view body, const char* type, bool cache) {
  auto mime = Http::Mime::MediaType::fromString(type);
  routes.get(path, guarded([body, mime, cache](const Rest::Request& req, Http::ResponseWriter& res) {
    // The assets are versioned with the binary; the pages are small and always fetched.
    res.headers().add<Http::Header::CacheControl>(
        cache ? Http::CacheDirective(Http::CacheDirective::MaxAge, std::chrono::seconds(86400))
              : Http::CacheDirective(Http::CacheDirective::NoCache));
    sendText(req, res, Http::Code::Ok, std::string(body), mime);
  }));
}

}  // namespace

void registerDocsRoutes(RouteTable& routes) {
  serve(routes, "/docs", kSwaggerPage, "text/html; charset=utf-8", false);
  serve(routes, "/docs/swagger-ui-bundle.js", embedded(leafsync_swagger_ui_js, leafsync_swagger_ui_js_end),
        "application/javascript; charset=utf-8", true);
  serve(routes, "/docs/swagger-ui.css", embedded(leafsync_swagger_ui_css, leafsync_swagger_ui_css_end),
        "text/css; charset=utf-8", true);
  serve(routes, "/redoc", kRedocPage, "text/html; charset=utf-8", false);
  serve(routes, "/redoc/redoc.standalone.js", embedded(leafsync_redoc_js, leafsync_redoc_js_end),
        "application/javascript; charset=utf-8", true);
}

void registerOpenApiRoute(RouteTable& routes, const std::string& service) {
  std::string document = openApiDocumentFor(service);
  routes.get("/openapi.json", guarded([document](const Rest::Request& req, Http::ResponseWriter& res) {
    sendJson(req, res, Http::Code::Ok, document);
  }));
  registerDocsRoutes(routes);
}

}  // namespace leafsync
