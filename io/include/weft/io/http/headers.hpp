// weft::http::HeaderField and HeaderView: the header fields of a received HTTP message, as
// views into the bytes the connection read.
//
// Nothing here copies: a field's name and value are std::string_views into the connection's
// buffer, valid while the message is (a request's headers until the handler returns, a
// response's until its body has been read). Copy what must outlive that into a std::string.
//
// Field names compare ASCII case-insensitively (RFC 9110 §5.1); values are compared as
// given, except by has_token, which reads a value as a comma-separated list of tokens
// (Connection, Upgrade, Transfer-Encoding) and compares each case-insensitively.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace weft::http {

/// Whether `a` and `b` are equal ignoring ASCII case (field names, tokens). Any thread.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + ('a' - 'A'));
    if (x != y) return false;
  }
  return true;
}

/// Whether the comma-separated list `value` ("keep-alive, Upgrade") holds `token`, compared
/// ignoring ASCII case; whitespace around list elements and empty elements are ignored.
constexpr bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
      element.remove_prefix(1);
    }
    while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
      element.remove_suffix(1);
    }
    if (iequals(element, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

/// One header field as received: the name as sent (case kept) and the value without the
/// whitespace around it.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

/// A read-only view of a message's header fields in the order they were received; lookups
/// by name ignore ASCII case. Cheap to copy; valid while the message's bytes are.
class HeaderView {
 public:
  HeaderView() noexcept = default;
  explicit HeaderView(std::span<const HeaderField> fields) noexcept : fields_(fields) {}

  /// The value of the first field named `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept {
    for (const HeaderField& f : fields_) {
      if (iequals(f.name, name)) return f.value;
    }
    return std::nullopt;
  }
  /// The value of the first field named `name`, or `fallback`.
  std::string_view get_or(std::string_view name, std::string_view fallback) const noexcept {
    return get(name).value_or(fallback);
  }
  /// Whether a field named `name` is present.
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  /// How many fields are named `name` (Set-Cookie, for one, may repeat).
  std::size_t count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const HeaderField& f : fields_) n += iequals(f.name, name) ? 1 : 0;
    return n;
  }
  /// Whether any field named `name` lists `token` (has_token): `has_token("Connection",
  /// "close")`.
  bool has_token(std::string_view name, std::string_view token) const noexcept {
    for (const HeaderField& f : fields_) {
      if (iequals(f.name, name) && http::has_token(f.value, token)) return true;
    }
    return false;
  }

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const HeaderField& operator[](std::size_t i) const noexcept { return fields_[i]; }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }

 private:
  std::span<const HeaderField> fields_;
};

}  // namespace weft::http
