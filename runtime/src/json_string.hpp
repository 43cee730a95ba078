// A JSON string literal, for the runtime's JSON output (the task dump, traces).
//
// The rule: `"` and `\` are escaped, control characters written as \u00XX, and every other
// byte passed through as it is (UTF-8 stays UTF-8).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace weft::detail {

/// Appends `s` to `out` as a quoted JSON string.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace weft::detail
