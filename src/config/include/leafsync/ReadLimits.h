#pragma once

#include <string>

namespace leafsync {

// What a read may build, set by the `http.*` keys of both services' YAML (and their
// LEAFSYNC_* overrides); docs/api.md, "Response limits", and the OpenAPI document state them.
// --describe lists them with their defaults, which scripts/check_manifests.py uses to size the
// pods' memory.
struct ReadLimits {
  // http.max_response_bytes: a listing stops adding images before the one that would take its
  // JSON body past this (its first image always goes in, so every page moves on).
  int max_response_bytes = 8388608;  // 8 MiB
  // http.large_response_bytes: a body past this (or past max_response_bytes, if that is
  // lower) is streamed (chunked) and needs one of `large_response_slots` slots until it is
  // written; a smaller one is sent whole. The bounds of all three are in the config tables.
  int large_response_bytes = 1048576;  // 1 MiB
  // http.large_response_slots: large responses under way at once; past that 503 + Retry-After.
  int large_response_slots = 4;
};

inline constexpr int kLargeResponseRetryAfterS = 1;

}  // namespace leafsync
