#include "leafsync/ChangeEvent.h"

namespace leafsync {

std::string_view opName(Op op) {
  switch (op) {
    case Op::Create:
      return "create";
    case Op::Update:
      return "update";
    case Op::Delete:
      return "delete";
    case Op::Snapshot:
      return "snapshot";
  }
  return "unknown";
}

}  // namespace leafsync
