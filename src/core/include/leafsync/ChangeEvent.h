#pragma once

#include <cstdint>
#include <string_view>

#include "leafsync/ImageRecord.h"
#include "leafsync/Plant.h"

namespace leafsync {

enum class Op { Create, Update, Delete, Snapshot };

std::string_view opName(Op op);  // "create", "update", "delete", "snapshot": metric labels

// Which fields of `image` an event carries. Creates and snapshots carry all of them; an update
// carries only what changed, so a metadata update never re-sends the image bytes.
enum Field : std::uint32_t {
  kCameraId = 1u << 0,
  kData = 1u << 1,
  kGps = 1u << 2,
  kCreatedAt = 1u << 3,
  kUpdatedAt = 1u << 4,
  kIsActive = 1u << 5,
  kIsDeleted = 1u << 6,
  kDisease = 1u << 7,
  kPercentage = 1u << 8,
  kAllFields = (1u << 9) - 1,
};

// The image columns a partial update can change, each with the field bit that carries it, in
// the stores' column order (both stores build their partial-update SET clauses from it).
struct FieldColumn {
  const char* column;
  Field field;
};
inline constexpr FieldColumn kFieldColumns[] = {
    {"camera_id", kCameraId},   {"data", kData},           {"latitude", kGps},
    {"longitude", kGps},        {"created_at", kCreatedAt}, {"updated_at", kUpdatedAt},
    {"is_active", kIsActive},   {"is_deleted", kIsDeleted}, {"disease", kDisease},
    {"percentage", kPercentage}};

struct ChangeEvent {
  Op op = Op::Create;
  Plant plant = Plant::Potato;
  std::int64_t source_ts_ms = 0;  // when the change was committed at the source
  std::uint32_t fields = 0;
  ImageRecord image;  // image.id and image.version identify the change
  // An update that carries the whole row as of its version (Debezium's `after` image, perhaps
  // without unchanged TOASTed bytes): it applies if newer, like a create.
  bool whole_row = false;

  bool carriesFullState() const { return op == Op::Create || op == Op::Snapshot; }
  // An update of only some fields is a diff against version - 1: applied to any other version
  // it would lose the fields of the versions in between, so it waits (is parked) until the row
  // is at exactly version - 1.
  bool needsPredecessor() const { return op == Op::Update && !whole_row && fields != kAllFields; }
};

}  // namespace leafsync
