#pragma once

#include <string_view>

namespace leafsync {

// The project version (CMakeLists.txt) and the git commit the binary was built from, baked in
// at build time (cmake/BuildInfo.cmake); "unknown" when the build had no git.
std::string_view buildVersion();
std::string_view buildCommit();

}  // namespace leafsync
