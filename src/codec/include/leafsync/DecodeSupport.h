#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

// What both event codecs (EventCodec, DebeziumCodec) check the same way. Internal to the codecs:
// it exposes simdjson, which nothing else of ours includes.
namespace leafsync {

// At most this many bytes of an input are copied into a decode reason: a reason travels in a
// dead letter's headers and in log lines, so a 700 KB value must not come along.
inline constexpr std::size_t kEchoLimit = 64;

// `input` for a reason: whole if it fits in kEchoLimit bytes, else its first kEchoLimit bytes
// (backed off to a UTF-8 character boundary) followed by "…".
std::string echo(std::string_view input);

// The first key that occurs twice in one object anywhere in `root` (keys compared after
// unescaping, so "id" and "\u0069d" are the same key), or an empty string. Parsers disagree on
// which of two duplicates wins (simdjson's lookup takes the first, iteration sees both), so an
// event with one is refused rather than read one way here and another way elsewhere.
std::string duplicateKey(simdjson::dom::element root);

}  // namespace leafsync
