#include "support/HttpClient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace leafsync::testing {
namespace {

std::size_t contentLength(const std::string& headers) {
  std::string lower;
  for (char c : headers) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto pos = lower.find("content-length:");
  if (pos == std::string::npos) return std::string::npos;
  return std::strtoull(headers.c_str() + pos + 15, nullptr, 10);
}

bool isChunked(const std::string& headers) {
  std::string lower;
  for (char c : headers) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("transfer-encoding: chunked") != std::string::npos;
}

// The body of a chunked message once its last chunk has come, else nullopt. Strict: a chunk
// whose size line or CRLF is wrong makes the body unreadable, so a test sees it.
std::optional<std::string> dechunk(const std::string& data, std::size_t from, bool* malformed) {
  std::string body;
  std::size_t pos = from;
  for (;;) {
    std::size_t line_end = data.find("\r\n", pos);
    if (line_end == std::string::npos) return std::nullopt;
    char* end = nullptr;
    std::string line = data.substr(pos, line_end - pos);
    unsigned long long size = std::strtoull(line.c_str(), &end, 16);
    if (line.empty() || *end != '\0') {
      *malformed = true;
      return std::nullopt;
    }
    pos = line_end + 2;
    if (size == 0) {
      if (data.size() < pos + 2) return std::nullopt;
      if (data.compare(pos, 2, "\r\n") != 0) *malformed = true;
      return *malformed ? std::nullopt : std::optional<std::string>(body);
    }
    if (data.size() < pos + size + 2) return std::nullopt;
    if (data.compare(pos + size, 2, "\r\n") != 0) {
      *malformed = true;
      return std::nullopt;
    }
    body.append(data, pos, size);
    pos += size + 2;
  }
}

}  // namespace

HttpResponse httpRaw(std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds timeout, bool* closed_by_server) {
  HttpResponse response;
  if (closed_by_server) *closed_by_server = false;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return response;
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string data;
  std::optional<std::string> chunked_body;  // set once a chunked body is complete
  auto until = std::chrono::steady_clock::now() + timeout;
  bool complete = false;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed_by_server) *closed_by_server = n == 0;
      break;
    }
    data.append(buf, static_cast<std::size_t>(n));
    auto end = data.find("\r\n\r\n");
    if (end != std::string::npos && isChunked(data.substr(0, end))) {
      bool malformed = false;
      // Decoding the whole message at every read is quadratic; only try once the last chunk's
      // terminator may have come.
      if (data.size() >= 5 && data.compare(data.size() - 5, 5, "0\r\n\r\n") == 0) {
        chunked_body = dechunk(data, end + 4, &malformed);
        if (malformed || (chunked_body && !closed_by_server)) break;
      }
      continue;
    }
    if (end != std::string::npos && !closed_by_server) {
      std::size_t length = contentLength(data.substr(0, end));
      if (length != std::string::npos && data.size() >= end + 4 + length) {
        complete = true;
        break;
      }
    }
  }
  (void)complete;
  ::close(fd);
  auto end = data.find("\r\n\r\n");
  if (data.compare(0, 5, "HTTP/") != 0 || end == std::string::npos) return response;
  response.status = std::atoi(data.c_str() + data.find(' ') + 1);
  response.headers = data.substr(0, end);
  if (isChunked(response.headers)) {
    // An incomplete or malformed chunked body is no body: the test sees the cut.
    response.body = chunked_body ? std::move(*chunked_body) : std::string();
    if (!chunked_body) response.status = 0;
  } else {
    response.body = data.substr(end + 4);
  }
  return response;
}

HttpResponse httpRequest(std::uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n";
  if (!body.empty() || method == "PUT" || method == "POST") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  return httpRaw(port, request, std::chrono::seconds(10));
}

}  // namespace leafsync::testing
