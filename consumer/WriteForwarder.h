#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace leafsync {

// A response from the producer's image-api, as the consumer relays it.
struct ForwardedResponse {
  int status = 0;  // 0: the producer could not be reached
  std::string body;
  std::optional<std::int64_t> version;  // X-Leafsync-Version of a committed write
  std::string error;                    // why the producer could not be reached
};

// Sends writes that reach the copy on to the producer's image-api (libcurl, one handle per
// call, so any request thread may use it). Thread-safe.
class WriteForwarder {
 public:
  WriteForwarder(std::string producer_url, std::chrono::milliseconds timeout);

  ForwardedResponse forward(const std::string& method, const std::string& path_and_query,
                            const std::string& body, const std::optional<std::string>& authorization) const;
  const std::string& producerUrl() const { return producer_url_; }

 private:
  std::string producer_url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace leafsync
