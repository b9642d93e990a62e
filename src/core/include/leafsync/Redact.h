#pragma once

#include <string>
#include <string_view>

// Secrets never reach a log line or an error message: whatever carries a database URL or an
// Authorization value into one passes it through these first.
namespace leafsync {

// `url` with every password replaced by `***`:
//   postgresql://leafsync:secret@host:5432/db   -> postgresql://leafsync:***@host:5432/db
//   postgresql://host/db?user=u&password=secret -> postgresql://host/db?user=u&password=***
//   host=db user=u password='se cret' dbname=x  -> host=db user=u password=*** dbname=x
// Anything without a password comes back unchanged (sqlite:var/copy.sqlite).
std::string redactUrl(std::string_view url);

// An Authorization header value with its credentials replaced: "Bearer abc" -> "Bearer ***";
// a value without a scheme becomes "***".
std::string redactAuthorization(std::string_view value);

}  // namespace leafsync
