#include "leafsync/Redact.h"

#include <cctype>

namespace leafsync {
namespace {

constexpr std::string_view kMask = "***";

bool isSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Masks every `password=<value>` (a URL query parameter, ended by '&' or '#', or a conninfo key
// word, whose value ends at a space unless single-quoted with backslash escapes).
std::string maskPasswordParameters(std::string_view text, bool conninfo) {
  constexpr std::string_view kKey = "password";
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t found = text.find(kKey, pos);
    if (found == std::string_view::npos) break;
    // A key word starts the text or follows a separator (so "old_password=" is not matched as
    // "password=", which would do no harm, but would surprise).
    bool starts = found == 0 || text[found - 1] == '?' || text[found - 1] == '&' ||
                  isSpace(text[found - 1]);
    std::size_t eq = found + kKey.size();
    while (conninfo && eq < text.size() && isSpace(text[eq])) ++eq;
    if (!starts || eq >= text.size() || text[eq] != '=') {
      out.append(text.substr(pos, found + kKey.size() - pos));
      pos = found + kKey.size();
      continue;
    }
    std::size_t value = eq + 1;
    while (conninfo && value < text.size() && isSpace(text[value])) ++value;
    std::size_t end = value;
    if (conninfo && end < text.size() && text[end] == '\'') {
      for (++end; end < text.size() && text[end] != '\''; ++end) {
        if (text[end] == '\\') ++end;
      }
      if (end < text.size()) ++end;  // the closing quote
    } else if (conninfo) {
      while (end < text.size() && !isSpace(text[end])) ++end;
    } else {
      while (end < text.size() && text[end] != '&' && text[end] != '#') ++end;
    }
    out.append(text.substr(pos, value - pos));
    out.append(kMask);
    pos = std::min(end, text.size());
  }
  out.append(text.substr(std::min(pos, text.size())));
  return out;
}

}  // namespace

std::string redactUrl(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return maskPasswordParameters(url, true);
  std::string out(url);
  std::size_t authority = scheme + 3;
  std::size_t authority_end = out.find_first_of("/?#", authority);
  if (authority_end == std::string::npos) authority_end = out.size();
  // The userinfo ends at the last '@' of the authority: a password may itself hold an '@'.
  std::size_t at = out.rfind('@', authority_end == 0 ? 0 : authority_end - 1);
  if (at != std::string::npos && at >= authority) {
    std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, kMask);
  }
  return maskPasswordParameters(out, false);
}

std::string redactAuthorization(std::string_view value) {
  std::size_t start = 0;
  while (start < value.size() && isSpace(value[start])) ++start;
  std::size_t space = start;
  while (space < value.size() && !isSpace(value[space])) ++space;
  if (space >= value.size()) return std::string(kMask);  // no scheme: all of it is the secret
  return std::string(value.substr(start, space - start)) + " " + std::string(kMask);
}

}  // namespace leafsync
