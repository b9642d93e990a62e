#include "leafsync/StreamedResponse.h"

#include <pistache/peer.h>
#include <pistache/stream.h>
#include <sys/socket.h>

#include <sstream>
#include <utility>

#include "leafsync/ByteEncoding.h"
#include "leafsync/HttpSupport.h"
#include "leafsync/Log.h"
#include "leafsync/RequestGate.h"

namespace leafsync {

using namespace Pistache;

namespace {

std::string chunkSizeLine(std::size_t size) {
  std::ostringstream os;
  os << std::hex << size << "\r\n";
  return os.str();
}

}  // namespace

StreamedResponse::StreamedResponse(const Rest::Request& request, Http::ResponseWriter& response, ResponseSlots& slots,
                                   std::size_t large_bytes)
    : request_(request), response_(response), slots_(slots), large_bytes_(large_bytes) {}

StreamedResponse::~StreamedResponse() {
  if (streaming_ && !finished_) abort("the response was left unfinished");
}

bool StreamedResponse::append(std::string_view piece) {
  if (!streaming_ && pending_.size() + piece.size() > large_bytes_ && !start()) return false;
  pending_.append(piece);
  if (streaming_ && pending_.size() >= kPieceBytes) writePending();
  return true;
}

bool StreamedResponse::appendHex(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); i += kPieceBytes / 2) {
    if (!append(hexEncode(bytes.substr(i, kPieceBytes / 2)))) return false;
  }
  return true;
}

bool StreamedResponse::start() {
  slot_ = slots_.tryAcquire();
  if (!slot_) {
    pending_.clear();
    pending_.shrink_to_fit();
    return false;
  }
  peer_ = response_.getPeer();
  if (!peer_) throw std::runtime_error("the client is gone");
  streaming_ = true;
  if (request_.version() == Http::Version::Http10) {
    // No chunks for HTTP/1.0: the body ends with the connection. Pistache's writer would add
    // a Content-Length, so the head is ours; it keeps the headers the handler set.
    close_ = true;
    std::ostringstream head;
    head << "HTTP/1.0 200 OK\r\n";
    for (const auto& header : response_.headers().list()) {
      if (std::string_view(header->name()) == "Connection") continue;
      head << header->name() << ": ";
      header->write(head);
      head << "\r\n";
    }
    head << "Content-Type: application/json\r\nConnection: close\r\n\r\n";
    std::string text = head.str();
    const std::size_t size = text.size();
    peer_->send(RawBuffer(std::move(text), size));
  } else {
    close_ = setConnectionHeader(request_, response_);
    response_.setMime(MIME(Application, Json));
    stream_.emplace(response_.stream(Http::Code::Ok, kPieceBytes + 64));
    stream_->flush();  // the head, so that the pieces sent past the stream follow it
  }
  writePending();
  return true;
}

void StreamedResponse::writePending() {
  std::string_view data(pending_);
  for (std::size_t i = 0; i < data.size(); i += kPieceBytes) {
    std::string_view piece = data.substr(i, kPieceBytes);
    if (stream_) {
      // write() frames the chunk in the stream's buffer; flush() hands it to the transport,
      // which sends what the socket takes now.
      stream_->write(piece.data(), static_cast<std::streamsize>(piece.size()));
      stream_->flush();
    } else {
      peer_->send(RawBuffer(std::string(piece), piece.size()));
    }
  }
  pending_.clear();
}

void StreamedResponse::finish() {
  if (finished_) return;
  finished_ = true;
  if (!streaming_) {
    sendJson(request_, response_, Http::Code::Ok, pending_);
    return;
  }
  // The last piece goes through the peer, whose write reports when it is done (the stream's
  // flush does not): the slot is held until then. It is queued after the pieces flushed before.
  std::string last;
  if (stream_) {
    if (!pending_.empty()) last = chunkSizeLine(pending_.size()) + pending_ + "\r\n";
    last += "0\r\n\r\n";
  } else {
    last = std::move(pending_);
  }
  pending_.clear();
  const std::size_t size = last.size();
  auto peer = peer_;
  const bool close = close_;
  peer_->send(RawBuffer(std::move(last), size))
      .then(
          [peer, close, slot = slot_](ssize_t) {
            if (close) ::shutdown(peer->fd(), SHUT_WR);
          },
          [slot = slot_](std::exception_ptr) {});
  slot_.reset();
  RequestGate::answered(peer_, close_);
}

void StreamedResponse::abort(const std::string& why) {
  if (!streaming_ || finished_) return;
  finished_ = true;
  logEvent(LogLevel::Error, "http_stream_aborted", {{"resource", request_.resource()}, {"error", why}});
  // Its status and part of its body are on their way: only the end of the connection tells
  // the client the body is cut.
  ::shutdown(peer_->fd(), SHUT_RDWR);
  slot_.reset();
  RequestGate::answered(peer_, true);
}

}  // namespace leafsync
