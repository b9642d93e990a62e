// libFuzzer target for the Debezium codec: any bytes decode to an event or a reason, never a
// crash, a sanitizer report or an exception; and a decoded event is one the native codec can
// carry (it encodes to a native message that decodes again), since both feed the same store.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "FuzzInput.h"
#include "leafsync/DebeziumCodec.h"
#include "leafsync/EventCodec.h"

using leafsync::ChangeEvent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static leafsync::DebeziumCodec debezium;
  static leafsync::EventCodec native;
  const auto message = leafsync::splitFuzzInput(data, size);
  auto decoded = debezium.decode(message.key, message.value, leafsync::Plant::Tomato);
  const auto* event = std::get_if<ChangeEvent>(&decoded);
  if (event == nullptr) return 0;

  const std::string encoded = leafsync::EventCodec::encode(*event);
  auto again = native.decode(leafsync::EventCodec::encodeKey(event->image.id), encoded);
  if (!std::holds_alternative<ChangeEvent>(again)) {
    std::fprintf(stderr, "invariant broken: a Debezium event the native codec refuses: %s\n", encoded.c_str());
    std::abort();
  }
  return 0;
}
