#pragma once

#include <string>
#include <vector>

#include "SyncStatus.h"
#include "WriteForwarder.h"
#include "WriteWorkers.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/ReadLimits.h"
#include "leafsync/Store.h"

namespace Pistache {
namespace Rest {
class Request;
}  // namespace Rest
namespace Http {
class ResponseWriter;
}
}  // namespace Pistache

namespace leafsync {

class RouteTable;

// The consumer's HTTP API over its copy: the seed's read endpoints, listing, sync status,
// liveness and readiness, metrics. Writes belong to the producer's image-api: with a
// forwarder they are sent there and answered once this copy has applied them
// (read-your-writes, bounded by `write_wait`) — on threads of their own, so waiting writes
// never hold the HTTP threads that serve reads and probes; without one they are refused with
// a JSON error that says where writes go.
class ReadApi {
 public:
  ReadApi(ConnectionPool<Store>& stores, ConsumerMetrics& metrics, SyncStatus& status,
          std::vector<std::string> topics, const WriteForwarder* forwarder,
          std::chrono::milliseconds write_wait, std::int64_t ready_max_lag);

  // `limits`: what a listing or an image read may build (http.max_response_bytes etc.).
  void registerRoutes(RouteTable& routes, const ReadLimits& limits);
  // Answers the forwarded writes still queued or waiting, then runs no more: call before the
  // HTTP server stops, since their answers go through its connections.
  void stopWrites() { write_workers_.stop(); }

 private:
  ConnectionPool<Store>& stores_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  std::vector<std::string> topics_;
  // SyncStatus's reasons, the database, and partial updates parked longer than stall_after_s.
  std::vector<std::string> notReadyReasons();
  void forwardWrite(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response);
  void forwardAndWait(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
                      Plant plant);

  const WriteForwarder* forwarder_;
  std::chrono::milliseconds write_wait_;
  std::int64_t ready_max_lag_;
  WriteWorkers write_workers_;
};

}  // namespace leafsync
