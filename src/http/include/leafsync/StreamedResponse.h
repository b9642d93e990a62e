#pragma once

// Pistache headers are heavy: include this only from API translation units.

#include <pistache/http.h>
#include <pistache/router.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "leafsync/ResponseSlots.h"

namespace leafsync {

// A 200 JSON body built in pieces, so that a large read never holds its whole body, nor the
// copies Pistache 0.0.5's ResponseWriter::send() makes of it (its buffer grows by doubling,
// then the body is copied twice more on its way to the socket: about 5 × the body in all).
//
// While the body is at most `large_bytes` it is held and sent whole, with a Content-Length.
// Past that it needs one of `slots`: with none free append() returns false and nothing has
// been sent (the caller answers 503); with one, the head is queued and the body follows in
// pieces of kPieceBytes, each handed to the connection's Tcp::Peer as it is built (no copy of
// the whole body). HTTP/1.1 gets a chunked body; HTTP/1.0, which cannot read chunks, gets the
// body ended by the close of the connection. Pistache's transport writes the pieces once the
// handler returns, as the socket takes them: what a slow client has not read waits in its
// write queue, at most the body itself, which the caller bounds (a listing by
// http.max_response_bytes). The slot is held until the last byte is written, so a client that
// pipelines reads without reading the answers cannot queue more than `slots` large bodies.
//
// Call finish() once the body is complete. A failure after streaming began cannot become an
// error response (the status is sent): abort() (or the destructor) closes the connection, so
// the client sees a cut body, never a shorter valid one.
class StreamedResponse {
 public:
  static constexpr std::size_t kPieceBytes = 64 << 10;

  StreamedResponse(const Pistache::Rest::Request& request, Pistache::Http::ResponseWriter& response,
                   ResponseSlots& slots, std::size_t large_bytes);
  ~StreamedResponse();
  StreamedResponse(const StreamedResponse&) = delete;
  StreamedResponse& operator=(const StreamedResponse&) = delete;

  bool append(std::string_view piece);
  // Appends `bytes` hex-encoded, a piece at a time.
  bool appendHex(std::string_view bytes);
  void finish();
  void abort(const std::string& why);
  bool streaming() const { return streaming_; }

 private:
  bool start();
  void writePending();
  std::string framed(std::string_view piece) const;  // as a chunk when chunked_

  const Pistache::Rest::Request& request_;
  Pistache::Http::ResponseWriter& response_;
  ResponseSlots& slots_;
  std::size_t large_bytes_;
  std::string pending_;
  std::shared_ptr<void> slot_;
  std::shared_ptr<Pistache::Tcp::Peer> peer_;
  bool chunked_ = false;  // HTTP/1.1; HTTP/1.0 ends the body by closing
  bool close_ = false;
  bool streaming_ = false;
  bool finished_ = false;
};

}  // namespace leafsync
