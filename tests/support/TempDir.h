#pragma once

#include <string>

namespace leafsync::testing {

// A fresh directory under $TMPDIR, removed with its contents when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A short random suffix for topic and group names, so tests never share broker state.
std::string uniqueSuffix();

}  // namespace leafsync::testing
