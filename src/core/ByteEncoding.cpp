#include "leafsync/ByteEncoding.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace leafsync {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<std::int8_t, 256> makeBase64Table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kBase64Alphabet[i])] = i;
  return table;
}
constexpr auto kBase64Table = makeBase64Table();

// The decoding of one character at each of a group's four positions, already shifted to
// where its bits land in the group's three bytes (little-endian: byte 0 lowest), so a group
// is four lookups ORed together and one store. An invalid character sets bit 24, which no
// valid group reaches.
constexpr std::uint32_t kBase64Invalid = 1u << 24;
constexpr std::array<std::array<std::uint32_t, 256>, 4> makeBase64Positions() {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  for (int c = 0; c < 256; ++c) {
    std::int32_t v = kBase64Table[static_cast<std::size_t>(c)];
    if (v < 0) {
      for (auto& position : t) position[static_cast<std::size_t>(c)] = kBase64Invalid;
      continue;
    }
    auto u = static_cast<std::uint32_t>(v);
    t[0][static_cast<std::size_t>(c)] = u << 2;
    t[1][static_cast<std::size_t>(c)] = (u >> 4) | ((u & 0x0f) << 12);
    t[2][static_cast<std::size_t>(c)] = ((u >> 2) << 8) | ((u & 0x03) << 22);
    t[3][static_cast<std::size_t>(c)] = u << 16;
  }
  return t;
}
constexpr auto kBase64Positions = makeBase64Positions();
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "kBase64Positions stores little-endian groups");

}  // namespace

std::string hexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHexDigits[b >> 4];
    out[2 * i + 1] = kHexDigits[b & 0x0f];
  }
  return out;
}

std::optional<std::string> hexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hexValue(hex[2 * i]);
    int lo = hexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return std::string();
  std::size_t pad = text[text.size() - 1] == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
  std::string out(text.size() / 4 * 3 - pad, '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* o = out.data();
  // Every group but the last has no padding: four lookups per group (kBase64Positions) and
  // one 4-byte store, whose fourth byte the next group overwrites (the last group writes at
  // least one), with the validity of all of them checked once at the end.
  const std::size_t full = text.size() / 4 - 1;
  std::uint32_t invalid = 0;
  for (std::size_t g = 0; g < full; ++g, in += 4, o += 3) {
    std::uint32_t n = kBase64Positions[0][in[0]] | kBase64Positions[1][in[1]] |
                      kBase64Positions[2][in[2]] | kBase64Positions[3][in[3]];
    invalid |= n;
    std::memcpy(o, &n, 4);
  }
  if (invalid & kBase64Invalid) return std::nullopt;
  std::int32_t a = kBase64Table[in[0]], b = kBase64Table[in[1]];
  std::int32_t c = pad == 2 ? 0 : kBase64Table[in[2]];
  std::int32_t d = pad >= 1 ? 0 : kBase64Table[in[3]];
  if ((a | b | c | d) < 0) return std::nullopt;
  std::uint32_t n = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                    (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
  o[0] = static_cast<char>(n >> 16);
  if (pad < 2) o[1] = static_cast<char>(n >> 8);
  if (pad < 1) o[2] = static_cast<char>(n);
  return out;
}

}  // namespace leafsync
