#pragma once

#include <functional>
#include <optional>
#include <string>

namespace leafsync {

// Reads a variable of the process environment; tests pass their own.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment processEnvironment();

// One environment variable that overrides a setting, as --print-env lists it.
struct EnvOverride {
  std::string name;
  std::string setting;
};

}  // namespace leafsync
