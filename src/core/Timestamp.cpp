#include "leafsync/Timestamp.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace leafsync {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// The two-digit (or four-digit) number at `pos`; digits() checked first.
int number(std::string_view s, std::size_t pos, std::size_t n) {
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) value = value * 10 + (s[i] - '0');
  return value;
}

bool isLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

std::int64_t nowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t nowMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string isoTimestamp(std::int64_t micros) {
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(((micros % 1000000) + 1000000) % 1000000));
  return buf;
}

bool isIsoTimestamp(std::string_view s) {
  if (!digits(s, 0, 4) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
      !digits(s, 8, 2) || (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2) || s[13] != ':' ||
      !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2)) {
    return false;
  }
  int year = number(s, 0, 4);
  int month = number(s, 5, 2);
  int day = number(s, 8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
      number(s, 11, 2) > 23 || number(s, 14, 2) > 59 || number(s, 17, 2) > 59) {
    return false;
  }
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start || pos - start > 9) return false;
  }
  if (pos == s.size()) return true;
  if (s[pos] == 'Z') return pos + 1 == s.size();
  if (s[pos] == '+' || s[pos] == '-') {
    return s.size() == pos + 6 && digits(s, pos + 1, 2) && s[pos + 3] == ':' &&
           digits(s, pos + 4, 2) && number(s, pos + 1, 2) <= 23 && number(s, pos + 4, 2) <= 59;
  }
  return false;
}

bool isEpochMillisInRange(std::int64_t ms) { return ms >= 0 && ms <= kMaxEpochMillis; }

std::optional<std::int64_t> parseIsoMicros(std::string_view s) {
  if (!isIsoTimestamp(s)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = number(s, 0, 4) - 1900;
  tm.tm_mon = number(s, 5, 2) - 1;
  tm.tm_mday = number(s, 8, 2);
  tm.tm_hour = number(s, 11, 2);
  tm.tm_min = number(s, 14, 2);
  tm.tm_sec = number(s, 17, 2);
  std::int64_t micros = static_cast<std::int64_t>(timegm(&tm)) * 1000000;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t scale = 100000;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos) {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
    }
  }
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    std::int64_t offset = (number(s, pos + 1, 2) * 3600 + number(s, pos + 4, 2) * 60) * std::int64_t{1000000};
    micros += s[pos] == '+' ? -offset : offset;
  }
  return micros;
}

}  // namespace leafsync
