// leafsync-bench-debezium-decode: what DebeziumCodec::decode costs per message of bench/peer's
// stream, against what any decoder of that stream must at least do, measured in the same run:
//
//   ceiling  simdjson on-demand straight to payload.after.data (or payload.before for a
//            delete) and base64-decoding it: the image bytes are the one thing a copy cannot
//            do without, and finding them is one pass over the message
//   DOM      simdjson's DOM parse of the message alone, nothing read from it
//   decode   DebeziumCodec::decode, every column read and checked
//
// The messages are the recorded envelopes of tests/unit/debezium (JSON converter with schemas,
// REPLICA IDENTITY FULL) with the image replaced by 4 KiB of incompressible bytes, in
// bench/peer's mix: per 20 rows, 20 snapshot rows, 10 full-row updates (before and after carry
// the image) and 1 delete. `--iterations N` decodes the mix N times (for callgrind: instruction
// counts per message are the run's total over N × the mix's size).
//
// Usage: leafsync-bench-debezium-decode [--iterations N]

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "BenchSupport.h"
#include "leafsync/ByteEncoding.h"
#include "leafsync/DebeziumCodec.h"

namespace {

using namespace leafsync;
using namespace leafsync::bench;

constexpr std::string_view kRecordedImage = "/9j/4AAQSkZJRgABAQ==";

std::string readFile(const std::string& name) {
  std::ifstream in(std::string(LEAFSYNC_SOURCE_DIR) + "/tests/unit/debezium/" + name, std::ios::binary);
  if (!in) die("cannot read tests/unit/debezium/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string replaceAll(std::string text, std::string_view from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct Message {
  std::string key;
  std::string value;
};

std::vector<Message> peerMix() {
  std::mt19937_64 random(42);
  std::string image(4096, '\0');
  for (char& c : image) c = static_cast<char>(random());
  const std::string data = base64Encode(image);
  auto load = [&](const std::string& name, std::string_view op_from = {}, std::string_view op_to = {}) {
    Message m;
    m.key = readFile(name + ".key.json");
    m.value = replaceAll(readFile(name + ".value.json"), kRecordedImage, data);
    if (!op_from.empty()) m.value = replaceAll(m.value, op_from, std::string(op_to));
    return m;
  };
  // The recorded create stands in for a snapshot row: the same envelope but for its op.
  const Message snapshot = load("create_schema", "\"op\":\"c\"", "\"op\":\"r\"");
  const Message update = load("update_schema");
  const Message remove = load("delete_full_schema");
  std::vector<Message> mix;
  for (int i = 0; i < 20; ++i) mix.push_back(snapshot);
  for (int i = 0; i < 10; ++i) mix.push_back(update);
  mix.push_back(remove);
  return mix;
}

// The ceiling's work for one message: find the image and decode it.
std::size_t extractImage(simdjson::ondemand::parser& parser, const simdjson::padded_string& value) {
  simdjson::ondemand::document doc = parser.iterate(value);
  simdjson::ondemand::object payload = doc["payload"].get_object();
  std::string_view op = payload["op"].get_string();
  simdjson::ondemand::value row = op == "d" ? payload["before"].value() : payload["after"].value();
  std::string_view text = row["data"].get_string();
  auto bytes = base64Decode(text);
  return bytes ? bytes->size() : 0;
}

struct Timing {
  double seconds = 0;
  std::size_t messages = 0;
  double usPerMessage() const { return seconds * 1e6 / static_cast<double>(messages); }
};

// `one(i)` handles message i of the mix.
template <typename F>
Timing timeLoop(const std::vector<Message>& mix, int iterations, F&& one) {
  std::size_t sink = 0;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    for (std::size_t m = 0; m < mix.size(); ++m) sink += one(m);
  }
  Timing t{secondsSince(start), mix.size() * static_cast<std::size_t>(iterations)};
  if (sink == 0) die("nothing decoded");
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else {
      std::cerr << "usage: " << argv[0] << " [--iterations N]\n";
      return 2;
    }
  }
  try {
    const std::vector<Message> mix = peerMix();
    std::size_t bytes = 0;
    for (const Message& m : mix) bytes += m.value.size() + m.key.size();
    DebeziumCodec codec;
    for (const Message& m : mix) {
      DecodeResult r = codec.decode(m.key, m.value, Plant::Potato);
      if (auto* error = std::get_if<DecodeError>(&r)) die("the mix does not decode: " + error->reason);
    }
    const double load = loadAverage();
    std::vector<simdjson::padded_string> padded;
    for (const Message& m : mix) padded.emplace_back(m.value);
    simdjson::ondemand::parser ondemand;
    simdjson::dom::parser dom;
    Timing ceiling = timeLoop(mix, iterations, [&](std::size_t i) { return extractImage(ondemand, padded[i]); });
    Timing parse = timeLoop(mix, iterations, [&](std::size_t i) {
      simdjson::dom::element doc;
      return dom.parse(padded[i]).get(doc) == simdjson::SUCCESS ? std::size_t{1} : std::size_t{0};
    });
    Timing decode = timeLoop(mix, iterations, [&](std::size_t i) {
      return std::holds_alternative<ChangeEvent>(codec.decode(mix[i].key, mix[i].value, Plant::Potato)) ? std::size_t{1}
                                                                                               : std::size_t{0};
    });
    const double mb = static_cast<double>(bytes) / static_cast<double>(mix.size()) / 1e6;
    std::printf("\nbench/debezium-decode: %zu messages of bench/peer's mix (%.0f bytes each on average, JSON with "
                "schemas, 4 KiB images), load average %.2f\n",
                decode.messages, mb * 1e6, load);
    std::printf("| what | µs/msg | MB/s | x ceiling's time |\n|---|---|---|---|\n");
    auto row = [&](const char* what, const Timing& t) {
      std::printf("| %s | %.2f | %.0f | %.2f× |\n", what, t.usPerMessage(), mb / (t.usPerMessage() / 1e6),
                  t.usPerMessage() / ceiling.usPerMessage());
    };
    row("ceiling: on-demand to the image + base64", ceiling);
    row("simdjson DOM parse alone", parse);
    row("DebeziumCodec::decode", decode);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench/debezium-decode: " << e.what() << "\n";
    return 1;
  }
}
