#pragma once

// The HTTP front of both services: Pistache 0.0.5 reads a request into its parser before it
// looks at it, answers its own errors in text/plain, drops pipelined requests after the first
// and never answers `Expect: 100-continue`. The gate reads the request head itself, refuses
// what it must from the head alone (JSON errors, then the connection is closed), and hands
// Pistache's parser one complete request at a time. HttpServer puts it in front of the router.

#include <pistache/http.h>
#include <pistache/router.h>

#include <chrono>
#include <cstddef>
#include <memory>

namespace leafsync {

class HttpMetrics;
class RouteTemplates;
enum class Refused;

// What a request may take; docs/api.md lists them.
struct HttpLimits {
  std::size_t max_body_bytes = 1 << 20;     // a larger Content-Length: 413 before the body is read
  std::size_t max_header_bytes = 16 << 10;  // request line and headers: 431 past this
  std::chrono::milliseconds header_timeout{10000};  // from the first byte to the end of the head: 408
  std::chrono::milliseconds body_timeout{10000};    // from the first byte to the end of the body: 408
  std::chrono::milliseconds idle_timeout{10000};    // a kept-alive connection with no request: closed
};

class RequestGate : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(RequestGate)

  // `routes` name what each answer is counted under in `metrics`.
  RequestGate(std::shared_ptr<Pistache::Rest::Router> router, HttpLimits limits,
              std::shared_ptr<const RouteTemplates> routes, std::shared_ptr<HttpMetrics> metrics);

  void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter response) override;

  // The handler's answer (`code`) to the peer's current request is queued (`close`: the
  // connection ends after it): the gate counts it and may hand on the next pipelined request.
  static void answered(const std::shared_ptr<Pistache::Tcp::Peer>& peer, Pistache::Http::Code code, bool close);

  // Stops the timer that answers silent clients; before the endpoint shuts down (its thread
  // calls into the transports' gates).
  void stopTimer();

  struct PeerState;

 private:
  // A thread shared by the gate and its per-thread clones: a client silent mid-request sends
  // no bytes that would let onInput see its timeout pass, so this checks every connection
  // with a request under way and answers the gate's JSON 408 before Pistache's own timer
  // (set a second later) would send its bodiless one.
  struct SilenceTimer;

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onInput(const char* buffer, std::size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

  // Runs with the peer's state locked, on whichever thread queued the last answer.
  void drain(const std::shared_ptr<Pistache::Tcp::Peer>& peer, PeerState& state);
  void dispatch(const std::shared_ptr<Pistache::Tcp::Peer>& peer, PeerState& state, std::size_t length);
  void refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer, PeerState& state, Refused reason,
              const std::string& detail);

  std::shared_ptr<Pistache::Rest::Router> router_;
  HttpLimits limits_;
  std::shared_ptr<const RouteTemplates> routes_;
  std::shared_ptr<HttpMetrics> metrics_;
  std::shared_ptr<SilenceTimer> timer_;
};

}  // namespace leafsync
