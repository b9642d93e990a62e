#include "leafsync/StreamedResponse.h"

#include <pistache/peer.h>
#include <pistache/stream.h>
#include <sys/socket.h>

#include <sstream>
#include <utility>

#include "leafsync/ByteEncoding.h"
#include "leafsync/HttpResponses.h"
#include "leafsync/RequestGate.h"
#include "leafsync/Log.h"

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
  // The head is ours, not Pistache's writer's (which would add a Content-Length) nor its
  // ResponseStream's (whose flush() spins on a socket the client does not read, holding the
  // HTTP thread): it keeps the headers the handler set. HTTP/1.0 cannot read chunks: its body
  // ends with the connection.
  chunked_ = request_.version() != Http::Version::Http10;
  close_ = chunked_ ? setConnectionHeader(request_, response_) : true;
  std::ostringstream head;
  head << (chunked_ ? "HTTP/1.1" : "HTTP/1.0") << " 200 OK\r\n";
  for (const auto& header : response_.headers().list()) {
    const std::string_view name = header->name();
    if (name == "Connection" || name == "Content-Type" || name == "Content-Length" || name == "Transfer-Encoding") continue;
    head << name << ": ";
    header->write(head);
    head << "\r\n";
  }
  head << "Content-Type: application/json\r\nConnection: " << (close_ ? "close" : "keep-alive") << "\r\n";
  if (chunked_) head << "Transfer-Encoding: chunked\r\n";
  head << "\r\n";
  std::string text = head.str();
  const std::size_t size = text.size();
  peer_->send(RawBuffer(std::move(text), size));
  writePending();
  return true;
}

std::string StreamedResponse::framed(std::string_view piece) const {
  if (!chunked_) return std::string(piece);
  std::string out = chunkSizeLine(piece.size());
  out.reserve(out.size() + piece.size() + 2);
  out += piece;
  out += "\r\n";
  return out;
}

void StreamedResponse::writePending() {
  // Queued for the transport, which writes them once the handler returns, as the socket
  // takes them (non-blocking): what the client has not read waits there, at most the body.
  std::string_view data(pending_);
  for (std::size_t i = 0; i < data.size(); i += kPieceBytes) {
    std::string piece = framed(data.substr(i, kPieceBytes));
    const std::size_t size = piece.size();
    peer_->send(RawBuffer(std::move(piece), size));
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
  // The last piece's write reports when it is done, after the pieces queued before it: the
  // slot is held until then.
  std::string last = pending_.empty() ? std::string() : framed(pending_);
  if (chunked_) last += "0\r\n\r\n";
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
  RequestGate::answered(peer_, Http::Code::Ok, close_);  // a streamed body is always a 200
}

void StreamedResponse::abort(const std::string& why) {
  if (!streaming_ || finished_) return;
  finished_ = true;
  logEvent(LogLevel::Error, "http_stream_aborted", {{"resource", request_.resource()}, {"error", why}});
  // Its status and part of its body are on their way: only the end of the connection tells
  // the client the body is cut.
  ::shutdown(peer_->fd(), SHUT_RDWR);
  slot_.reset();
  RequestGate::answered(peer_, Http::Code::Ok, true);  // its 200 went out before the failure
}

}  // namespace leafsync
