#pragma once

#include <string>
#include <vector>

#include "SyncStatus.h"
#include "WriteForwarder.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/Store.h"

namespace Pistache {
namespace Rest {
class Router;
class Request;
}  // namespace Rest
namespace Http {
class ResponseWriter;
}
}  // namespace Pistache

namespace leafsync {

// The consumer's HTTP API over its copy: the seed's read endpoints, listing, sync status,
// liveness and readiness, metrics. Writes belong to the producer's image-api: with a
// forwarder they are sent there and answered once this copy has applied them
// (read-your-writes, bounded by `write_wait`); without one they are refused with a JSON error
// that says where writes go.
class ReadApi {
 public:
  ReadApi(ConnectionPool<Store>& stores, ConsumerMetrics& metrics, SyncStatus& status,
          std::vector<std::string> topics, const WriteForwarder* forwarder,
          std::chrono::milliseconds write_wait, std::int64_t ready_max_lag);

  void registerRoutes(Pistache::Rest::Router& router);

 private:
  ConnectionPool<Store>& stores_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  std::vector<std::string> topics_;
  void forwardWrite(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response);

  const WriteForwarder* forwarder_;
  std::chrono::milliseconds write_wait_;
  std::int64_t ready_max_lag_;
};

}  // namespace leafsync
