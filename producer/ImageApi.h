#pragma once

#include <functional>
#include <string>

#include "ProducerMetrics.h"
#include "leafsync/ConnectionPool.h"
#include "leafsync/ReadLimits.h"
#include "leafsync/SourceStore.h"

namespace leafsync {

class RouteTable;

// The image-api over the source database: the seed's endpoints for the three plants. Writes
// commit the row and its change event together, then wake the outbox relay. Writes need
// `Authorization: Bearer <token>` when a token is configured; reads stay open.
class ImageApi {
 public:
  ImageApi(ConnectionPool<SourceStore>& stores, ProducerMetrics& metrics, std::string write_token,
           std::size_t max_body_bytes, std::function<void()> on_write);

  // `limits`: what a listing or an image read may build (http.max_response_bytes etc.).
  void registerRoutes(RouteTable& routes, const ReadLimits& limits);

 private:
  ConnectionPool<SourceStore>& stores_;
  ProducerMetrics& metrics_;
  std::string write_token_;
  std::size_t max_body_bytes_;
  std::function<void()> on_write_;
};

// Compares in time independent of where the strings differ, so a token cannot be guessed
// byte by byte from response times.
bool constantTimeEquals(const std::string& a, const std::string& b);

}  // namespace leafsync
