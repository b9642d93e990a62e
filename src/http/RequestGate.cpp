#include "leafsync/RequestGate.h"

#include <pistache/peer.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "leafsync/HttpMetrics.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/Log.h"

namespace leafsync {

using namespace Pistache;
using Code = Http::Code;

namespace {

constexpr const char* kStateKey = "leafsync.gate";

// The methods Pistache's parser knows. Another token gets 405, as FastAPI answers it (and a
// 5xx would blame the server); without Allow, which only routing knows.
constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};

struct Refusal {
  Refused reason;  // its code too (HttpMetrics::codeOf)
  std::string detail;
};

// What the gate needs from a complete head.
struct Head {
  std::size_t content_length = 0;
  bool expects_continue = false;
};

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out;
}

// The request line, complete (without its CRLF).
std::optional<Refusal> checkRequestLine(std::string_view line) {
  if (line.empty()) return Refusal{Refused::BadRequestLine, "empty request line"};
  std::size_t first = line.find(' ');
  std::size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    return Refusal{Refused::BadRequestLine, "malformed request line '" + shown(line) + "': expected 'METHOD /path HTTP/1.1'"};
  }
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, last - first - 1);
  std::string_view version = line.substr(last + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), isTokenChar)) {
    return Refusal{Refused::BadRequestLine, "malformed request method '" + shown(method) + "'"};
  }
  if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
    return Refusal{Refused::UnknownMethod, "unknown HTTP method '" + shown(method) + "'"};
  }
  if (target.empty() || target.front() != '/' || target.find(' ') != std::string_view::npos) {
    return Refusal{Refused::BadRequestLine, "malformed request target '" + shown(target) + "': expected an absolute path"};
  }
  if (version == "HTTP/1.1" || version == "HTTP/1.0") return std::nullopt;
  if (version.size() == 8 && version.substr(0, 5) == "HTTP/") {
    return Refusal{Refused::VersionNotSupported, "HTTP version '" + shown(version) + "' is not supported: use HTTP/1.1"};
  }
  return Refusal{Refused::BadRequestLine, "malformed HTTP version '" + shown(version) + "': expected HTTP/1.1"};
}

// The header lines after the request line, each without its CRLF.
std::optional<Refusal> checkHeaders(std::string_view lines, std::size_t max_body, Head& head) {
  std::optional<std::string> content_length;
  while (!lines.empty()) {
    std::size_t end = lines.find("\r\n");
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
    if (line.front() == ' ' || line.front() == '\t') {
      return Refusal{Refused::BadHeader, "folded header lines are not accepted"};
    }
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar)) {
      return Refusal{Refused::BadHeader, "malformed header line '" + shown(line) + "'"};
    }
    std::string key = lower(name);
    std::string_view value = trim(line.substr(colon + 1));
    if (key == "content-length") {
      if (content_length && *content_length != value) return Refusal{Refused::BadContentLength, "conflicting Content-Length headers"};
      content_length = std::string(value);
    } else if (key == "transfer-encoding") {
      return Refusal{Refused::TransferEncoding, "Transfer-Encoding is not accepted: send the body with a Content-Length"};
    } else if (key == "expect") {
      if (lower(value) != "100-continue") return Refusal{Refused::UnknownExpectation, "only 'Expect: 100-continue' is understood"};
      head.expects_continue = true;
    }
  }
  if (content_length) {
    const std::string& text = *content_length;
    if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Refusal{Refused::BadContentLength, "Content-Length must be a non-negative integer, got '" + shown(text) + "'"};
    }
    head.content_length = std::stoull(text);
    if (head.content_length > max_body) {
      return Refusal{Refused::BodyTooLarge, "body of " + text + " bytes exceeds the limit of " +
                                                         std::to_string(max_body) + " bytes"};
    }
  }
  return std::nullopt;
}

}  // namespace

// A connection's bytes not yet handed on, and where its current request stands. Locked: the
// answer to a forwarded write is queued on another thread, which then hands on the next
// pipelined request itself (recursive: a handler answering at once re-enters `answered`).
struct RequestGate::PeerState {
  std::recursive_mutex mutex;
  RequestGate* gate = nullptr;  // the transport's handler that owns the connection
  std::string pending;
  std::optional<std::chrono::steady_clock::time_point> started;  // first byte of the current request
  bool awaiting_answer = false;
  bool dispatching = false;
  bool continue_sent = false;
  bool closing = false;  // refused or asked to close: the rest is read and dropped
  // The request being answered, for HttpMetrics.
  const std::string* route = nullptr;
  const char* method = "";
  std::chrono::steady_clock::time_point dispatched;
};

struct RequestGate::SilenceTimer {
  // Well under the two seconds by which Pistache's timeouts trail the gate's (HttpServer).
  static constexpr std::chrono::milliseconds kTick{200};

  SilenceTimer() : thread([this] { run(); }) {}
  ~SilenceTimer() { stop(); }

  void watch(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<PeerState>& state) {
    std::lock_guard<std::mutex> lock(mutex);
    watched.emplace_back(peer, state);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!wake.wait_for(lock, kTick, [this] { return stopping; })) {
      watched.erase(std::remove_if(watched.begin(), watched.end(),
                                   [](const auto& entry) { return entry.first.expired() || entry.second.expired(); }),
                    watched.end());
      auto entries = watched;  // checked without the lock: new connections are not held up
      lock.unlock();
      for (const auto& [weak_peer, weak_state] : entries) {
        auto peer = weak_peer.lock();
        auto state = weak_state.lock();
        if (!peer || !state) continue;
        // Busy: its handler is running (not a silent client) or its bytes are being read.
        std::unique_lock<std::recursive_mutex> held(state->mutex, std::try_to_lock);
        if (!held) continue;
        // drain() answers the 408 once the request's timeout has passed.
        if (state->started && !state->closing && !state->awaiting_answer) state->gate->drain(peer, *state);
      }
      lock.lock();
    }
  }

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::vector<std::pair<std::weak_ptr<Tcp::Peer>, std::weak_ptr<PeerState>>> watched;
  std::thread thread;  // last: starts once the rest is built
};

RequestGate::RequestGate(std::shared_ptr<Rest::Router> router, HttpLimits limits,
                         std::shared_ptr<const RouteTemplates> routes, std::shared_ptr<HttpMetrics> metrics)
    : router_(std::move(router)),
      limits_(limits),
      routes_(std::move(routes)),
      metrics_(std::move(metrics)),
      timer_(std::make_shared<SilenceTimer>()) {}

void RequestGate::stopTimer() { timer_->stop(); }

void RequestGate::onConnection(const std::shared_ptr<Tcp::Peer>& peer) {
  // What Pistache's own onConnection does (its parser, which its idle timer also reads), and ours.
  peer->putData(ParserData, std::make_shared<Http::RequestParser>(getMaxRequestSize()));
  // No request yet: Pistache's timer applies the idle timeout and closes without an answer
  // (not its bodiless 408) a connection on which nothing comes.
  peer->setIdle(true);
  auto state = std::make_shared<PeerState>();
  state->gate = this;
  peer->putData(kStateKey, state);
  timer_->watch(peer, state);
}

void RequestGate::onInput(const char* buffer, std::size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
  auto state = std::static_pointer_cast<PeerState>(peer->getData(kStateKey));
  std::lock_guard<std::recursive_mutex> lock(state->mutex);
  if (state->closing) return;
  peer->setIdle(false);  // a request under way: Pistache's timer now applies its header timeout
  if (!state->started) {
    state->started = std::chrono::steady_clock::now();
    // Pistache's timer measures from its parser's last reset: from this first byte, as ours
    // does, not from the previous answer (which would cut a late request short).
    getParser(peer)->reset();
  }
  state->pending.append(buffer, len);
  drain(peer, *state);
}

void RequestGate::answered(const std::shared_ptr<Tcp::Peer>& peer, Code code, bool close) {
  if (!peer) return;
  auto state = std::static_pointer_cast<PeerState>(peer->tryGetData(kStateKey));
  if (!state) return;
  std::lock_guard<std::recursive_mutex> lock(state->mutex);
  if (state->awaiting_answer && state->route) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - state->dispatched;
    state->gate->metrics_->answered(*state->route, state->method, static_cast<int>(code), took.count());
  }
  state->awaiting_answer = false;
  if (close) {
    state->closing = true;
    state->pending.clear();
  } else if (!state->pending.empty()) {
    // A pipelined request is under way: its clock starts now (it waited on us, not on its
    // client), and it is not idle (Pistache's send has just marked the peer so, which would
    // let its idle timer close the connection without an answer).
    state->started = std::chrono::steady_clock::now();
    peer->setIdle(false);
  }
  // Otherwise Pistache's send marked the peer idle: a kept-alive connection has its idle timeout.
  if (!state->dispatching) state->gate->drain(peer, *state);
}

void RequestGate::drain(const std::shared_ptr<Tcp::Peer>& peer, PeerState& state) {
  while (!state.closing && !state.awaiting_answer && !state.pending.empty()) {
    const std::string& pending = state.pending;
    std::size_t head_end = pending.find("\r\n\r\n");
    std::size_t scanned = std::min(pending.size(), head_end == std::string::npos ? pending.size() : head_end + 4);
    if (scanned > limits_.max_header_bytes) {
      return refuse(peer, state, Refused::HeadersTooLarge,
                    "request line and headers exceed the limit of " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    // A bare LF would leave Pistache's parser waiting for a CRLF that never comes.
    for (std::size_t i = 0; i < scanned; ++i) {
      if (pending[i] == '\n' && (i == 0 || pending[i - 1] != '\r')) {
        return refuse(peer, state, Refused::BareLf, "lines must end with CRLF, not a bare LF");
      }
    }
    std::size_t line_end = pending.find("\r\n");
    if (line_end != std::string::npos) {
      if (auto refusal = checkRequestLine(std::string_view(pending).substr(0, line_end))) {
        return refuse(peer, state, refusal->reason, refusal->detail);
      }
    }
    auto elapsed = std::chrono::steady_clock::now() - *state.started;
    if (head_end == std::string::npos) {
      if (elapsed > limits_.header_timeout) return refuse(peer, state, Refused::HeaderTimeout, "request headers took too long");
      return;
    }
    Head head;
    std::string_view header_lines = std::string_view(pending).substr(line_end + 2, head_end + 2 - (line_end + 2));
    if (header_lines.size() >= 2) header_lines.remove_suffix(2);
    else header_lines = {};
    if (auto refusal = checkHeaders(header_lines, limits_.max_body_bytes, head)) {
      return refuse(peer, state, refusal->reason, refusal->detail);
    }
    std::size_t length = head_end + 4 + head.content_length;
    if (pending.size() < length) {
      if (elapsed > limits_.body_timeout) return refuse(peer, state, Refused::BodyTimeout, "request body took too long");
      if (head.expects_continue && !state.continue_sent) {
        state.continue_sent = true;
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        peer->send(RawBuffer(kContinue, kContinue.size()));
      }
      return;
    }
    dispatch(peer, state, length);
  }
}

void RequestGate::dispatch(const std::shared_ptr<Tcp::Peer>& peer, PeerState& state, std::size_t length) {
  auto parser = getParser(peer);
  std::string request_bytes = state.pending.substr(0, length);
  state.pending.erase(0, length);
  state.started = state.pending.empty() ? std::nullopt : std::optional(std::chrono::steady_clock::now());
  state.continue_sent = false;
  try {
    if (!parser->feed(request_bytes.data(), request_bytes.size()) || parser->parse() != Http::Private::State::Done) {
      parser->reset();
      return refuse(peer, state, Refused::MalformedRequest, "malformed request");
    }
  } catch (const std::exception& e) {
    parser->reset();
    return refuse(peer, state, Refused::MalformedRequest, std::string("malformed request: ") + e.what());
  }
  Http::Request request = parser->request;
  parser->reset();
  request.copyAddress(peer->address());
  Http::ResponseWriter response(request.version(), transport(), this, peer);
  state.route = &routes_->labelFor(request.resource());
  state.method = Http::methodString(request.method());
  state.dispatched = std::chrono::steady_clock::now();
  state.awaiting_answer = true;
  state.dispatching = true;
  try {
    onRequest(request, std::move(response));
  } catch (const std::exception& e) {
    logEvent(LogLevel::Error, "http_error", {{"resource", request.resource()}, {"error", e.what()}});
  }
  state.dispatching = false;
}

void RequestGate::refuse(const std::shared_ptr<Tcp::Peer>& peer, PeerState& state, Refused reason,
                         const std::string& detail) {
  state.closing = true;
  state.pending.clear();
  metrics_->refused(reason);
  auto code = static_cast<Code>(HttpMetrics::codeOf(reason));
  logEvent(LogLevel::Debug, "http_refused",
           {{"status", static_cast<int>(code)}, {"reason", HttpMetrics::nameOf(reason)}, {"detail", detail}});
  Http::ResponseWriter response(Http::Version::Http11, transport(), this, peer);
  response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
  // Half-close once written: the client reads the answer and EOF; bytes it still sends are
  // read and dropped until it closes, or the idle timeout closes the connection.
  std::weak_ptr<Tcp::Peer> weak = peer;
  response.send(code, errorBody(detail), MIME(Application, Json))
      .then(
          [weak](ssize_t) {
            if (auto p = weak.lock()) ::shutdown(p->fd(), SHUT_WR);
          },
          Async::IgnoreException);
}

void RequestGate::onRequest(const Http::Request& request, Http::ResponseWriter response) {
  // Pistache 0.0.5's route() answers a path no route takes itself, with the router's
  // not-found handler (ours: JSON 404), and a known path with another method through the
  // custom handler registerMethodNotAllowed adds (JSON 405).
  router_->route(request, std::move(response));
}

}  // namespace leafsync
