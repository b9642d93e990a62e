// libFuzzer target for the native codec: any bytes decode to an event, a marker or a reason,
// never a crash, a sanitizer report or an exception; and what decodes re-encodes to a message
// that decodes to the same event (encode is the canonical form: encoding twice changes nothing).
#include <cstdlib>
#include <cstdio>
#include <string>
#include <variant>

#include "FuzzInput.h"
#include "leafsync/EventCodec.h"

using leafsync::ChangeEvent;
using leafsync::EventCodec;

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static EventCodec codec;  // reused like the consumer's, one per thread
  const auto message = leafsync::splitFuzzInput(data, size);
  auto decoded = codec.decode(message.key, message.value);
  const auto* event = std::get_if<ChangeEvent>(&decoded);
  if (event == nullptr) return 0;

  const std::string encoded = EventCodec::encode(*event);
  const std::string key = EventCodec::encodeKey(event->image.id);
  auto again = codec.decode(key, encoded);
  const auto* event_again = std::get_if<ChangeEvent>(&again);
  if (event_again == nullptr) {
    broken("a decoded event re-encodes to a message that does not decode", encoded);
  }
  if (EventCodec::encode(*event_again) != encoded) {
    broken("encode(decode(encode(e))) differs from encode(e)", encoded);
  }
  return 0;
}
