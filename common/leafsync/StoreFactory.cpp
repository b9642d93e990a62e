#include "leafsync/StoreFactory.h"

#include <stdexcept>

#include "leafsync/SqliteStore.h"

namespace leafsync {
namespace {

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::unique_ptr<Store> openStore(const std::string& url) {
  if (startsWith(url, "sqlite://")) return std::make_unique<SqliteStore>(url.substr(9));
  if (startsWith(url, "sqlite:")) return std::make_unique<SqliteStore>(url.substr(7));
  if (startsWith(url, "postgres")) {
    throw std::invalid_argument("PostgreSQL store is not built yet: use sqlite:PATH");
  }
  if (url.find("://") != std::string::npos) {
    throw std::invalid_argument("unsupported database URL '" + url + "'");
  }
  return std::make_unique<SqliteStore>(url);
}

}  // namespace leafsync
