#pragma once

#include <string>
#include <vector>

#include "SyncStatus.h"
#include "leafsync/ConsumerMetrics.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/Store.h"

namespace Pistache::Rest {
class Router;
}

namespace leafsync {

// The consumer's HTTP API over its copy: the seed's read endpoints, listing, sync status,
// liveness and readiness, metrics. Writes belong to the producer's image-api and are refused
// here with a JSON error that says so.
class ReadApi {
 public:
  ReadApi(ConnectionPool<Store>& stores, ConsumerMetrics& metrics, SyncStatus& status,
          std::vector<std::string> topics, std::string producer_url);

  void registerRoutes(Pistache::Rest::Router& router);

 private:
  ConnectionPool<Store>& stores_;
  ConsumerMetrics& metrics_;
  SyncStatus& status_;
  std::vector<std::string> topics_;
  std::string producer_url_;
};

}  // namespace leafsync
