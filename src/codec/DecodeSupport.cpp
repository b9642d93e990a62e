#include "leafsync/DecodeSupport.h"

#include <algorithm>
#include <vector>

namespace leafsync {

std::string echo(std::string_view input) {
  if (input.size() <= kEchoLimit) return std::string(input);
  std::size_t cut = kEchoLimit;
  // A byte 10xxxxxx continues a character: cut before the character it belongs to.
  while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80) --cut;
  return std::string(input.substr(0, cut)) + "…";
}

namespace {

std::string duplicateIn(simdjson::dom::element value, std::vector<std::string_view>& keys) {
  simdjson::dom::array array;
  if (value.get_array().get(array) == simdjson::SUCCESS) {
    for (simdjson::dom::element item : array) {
      if (std::string key = duplicateIn(item, keys); !key.empty()) return key;
    }
    return {};
  }
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return {};
  // Checked before descending, so `keys` holds one object's keys at a time and is reused.
  keys.clear();
  for (auto field : object) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  if (auto it = std::adjacent_find(keys.begin(), keys.end()); it != keys.end()) {
    return std::string(*it);
  }
  for (auto field : object) {
    if (std::string key = duplicateIn(field.value, keys); !key.empty()) return key;
  }
  return {};
}

}  // namespace

std::string duplicateKey(simdjson::dom::element root) {
  std::vector<std::string_view> keys;
  return duplicateIn(root, keys);
}

}  // namespace leafsync
