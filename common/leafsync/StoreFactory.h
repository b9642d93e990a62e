#pragma once

#include <memory>
#include <string>

#include "leafsync/Store.h"

namespace leafsync {

// Opens the copy named by a URL: "sqlite:PATH", "sqlite://PATH" or a bare file path.
// Throws std::invalid_argument for a URL it cannot serve, StoreError when the open fails.
std::unique_ptr<Store> openStore(const std::string& url);

}  // namespace leafsync
