#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

// Whatever logs a URL or a credential redacts it first (redactUrl, redactAuthorization).
#include "leafsync/Redact.h"

namespace leafsync {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  LogField(std::string_view k, T v) : key(k), value(std::to_string(v)) {}

  std::string_view key;
  std::string value;
};

// One line per event on stderr: `ts=... level=info event=batch_applied topic=potato n=200`.
// Values with spaces, quotes or '=' are quoted. Thread-safe; each line is one write.
void logEvent(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
std::optional<LogLevel> parseLogLevel(std::string_view name);
std::string_view logLevelName(LogLevel level);  // what parseLogLevel reads: "debug" ... "error"

}  // namespace leafsync
