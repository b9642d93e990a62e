#include "leafsync/Log.h"

#include <unistd.h>

#include <atomic>

#include "leafsync/Timestamp.h"

namespace leafsync {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};

void appendValue(std::string& line, std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t' || c == '\\') plain = false;
  }
  if (plain) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      line += '\\';
      line += c;
    } else if (c == '\n') {
      line += "\\n";
    } else if (c == '\t') {
      line += "\\t";
    } else {
      line += c;
    }
  }
  line += '"';
}

}  // namespace

void setLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool logEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

std::string_view logLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

std::optional<LogLevel> parseLogLevel(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

void logEvent(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  std::string line = "ts=" + isoTimestamp(nowMicros()) + "Z level=" +
                     kLevelNames[static_cast<int>(level)] + " event=";
  appendValue(line, event);
  for (const LogField& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    appendValue(line, field.value);
  }
  line += '\n';
  // A single write keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace leafsync
