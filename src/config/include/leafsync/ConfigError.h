#pragma once

#include <stdexcept>

namespace leafsync {

// A configuration the service cannot start with: the message names the setting and why.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace leafsync
