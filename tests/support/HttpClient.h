#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace leafsync::testing {

struct HttpResponse {
  int status = 0;  // 0 when no response came
  std::string headers;
  std::string body;
};

// One request on a fresh connection to 127.0.0.1:port, read until the server closes or the
// Content-Length (or the last chunk of a chunked body, then decoded) is complete; a cut or
// malformed chunked body gives status 0. `raw` requests let tests speak HTTP/1.0 or omit keep-alive.
HttpResponse httpRequest(std::uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "");
HttpResponse httpRaw(std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds timeout, bool* closed_by_server = nullptr);

}  // namespace leafsync::testing
