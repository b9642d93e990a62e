#pragma once

#include <memory>
#include <string_view>

#include "leafsync/EventCodec.h"  // DecodeResult, DecodeError
#include "leafsync/Plant.h"

namespace leafsync {

// Debezium's change-event envelope from its PostgreSQL connector (docs/debezium.md): JSON value
// {"before","after","source","op","ts_ms",...}, bare or wrapped by the JSON converter as
// {"schema","payload"}; JSON key {"id":N} (bare or wrapped) or a plain decimal id.
//
// Mapping: c -> Create, r -> Snapshot, u -> Update carrying the full row (all fields), d -> Delete
// with version before.version + 1 (REPLICA IDENTITY FULL) or INT64_MAX when `before` is only the
// key (DEFAULT; ids are never reused). Same validation rules as EventCodec; unknown extra columns
// are ignored.
//
// Pure (bytes in, event or reason out); the tombstone after a delete (null value) is handled by
// the caller, never passed here. Not thread-safe: it reuses one parser; one codec per thread.
class DebeziumCodec {
 public:
  DebeziumCodec();
  ~DebeziumCodec();
  DebeziumCodec(const DebeziumCodec&) = delete;
  DebeziumCodec& operator=(const DebeziumCodec&) = delete;

  // `plant` comes from the topic's configuration: Debezium's rows do not name it.
  DecodeResult decode(std::string_view key, std::string_view value, Plant plant);

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace leafsync
