#include "WriteForwarder.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace leafsync {
namespace {

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::size_t readVersionHeader(char* data, std::size_t size, std::size_t count, void* out) {
  std::string line(data, size * count);
  std::string lower;
  for (char c : line) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string name = "x-leafsync-version:";
  if (lower.compare(0, name.size(), name) == 0) {
    try {
      *static_cast<std::optional<std::int64_t>*>(out) = std::stoll(line.substr(name.size()));
    } catch (const std::exception&) {
      // A malformed header leaves the version unknown; the caller then does not wait.
    }
  }
  return size * count;
}

}  // namespace

WriteForwarder::WriteForwarder(std::string producer_url, std::chrono::milliseconds timeout)
    : producer_url_(std::move(producer_url)), timeout_(timeout) {
  while (!producer_url_.empty() && producer_url_.back() == '/') producer_url_.pop_back();
}

ForwardedResponse WriteForwarder::forward(const std::string& method, const std::string& path_and_query,
                                          const std::string& body,
                                          const std::optional<std::string>& authorization) const {
  ForwardedResponse response;
  // One handle per thread, reset between calls: its connection to the producer is kept
  // alive, so a forward does not pay a TCP connect (and a socket in TIME_WAIT) each time.
  thread_local std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  curl_easy_reset(curl.get());
  std::unique_ptr<curl_slist, HeaderListDeleter> headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  if (authorization) headers.reset(curl_slist_append(headers.release(), ("Authorization: " + *authorization).c_str()));
  std::string url = producer_url_ + path_and_query;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  if (method != "DELETE" || !body.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, appendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, readVersionHeader);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.version);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    response.error = curl_easy_strerror(rc);
    return response;
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace leafsync
