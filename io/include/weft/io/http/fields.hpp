// weft::http::Fields: the header fields of a message to send — owned, in the order they were
// added, looked up by name ignoring ASCII case (RFC 9110 §5.1).
//
// A server's Response and a client's request build their heads from one. Received messages
// use HeaderView instead (headers.hpp), views into the bytes read. Names and values are
// checked as they are added: a name must be a token, and a value may not hold CR, LF or NUL,
// so no caller can split a head in two by passing on a string it was given (header
// injection); leading and trailing whitespace of a value is dropped, as a parser would.
//
// Each field keeps its name as given ("X-Request-Id"); serialize() writes them back that way.
// Fields are few in practice, so lookups scan the list; it is cheap to move, and a moved-from
// list is empty.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/io/http/headers.hpp"

namespace weft::http {

class Fields {
 public:
  /// One field: the name as added and the value.
  struct Field {
    std::string name;
    std::string value;
  };

  Fields() = default;
  /// The fields of `list`, in order: `Fields{{"Content-Type", "text/plain"}}`. Throws
  /// std::invalid_argument as add() does.
  Fields(std::initializer_list<std::pair<std::string_view, std::string_view>> list) {
    for (const auto& [name, value] : list) add(name, value);
  }

  /// Appends a field, after any of the same name (Set-Cookie may repeat). Throws
  /// std::invalid_argument if `name` is not a token or `value` holds CR, LF or NUL.
  void add(std::string_view name, std::string_view value) {
    check(name, value);
    fields_.push_back(Field{std::string(name), std::string(trim(value))});
  }
  /// Replaces every field named `name` with one holding `value` (in the first one's place,
  /// or at the end). Throws std::invalid_argument as add() does.
  void set(std::string_view name, std::string_view value) {
    check(name, value);
    std::size_t i = 0;
    for (; i < fields_.size(); ++i) {
      if (iequals(fields_[i].name, name)) break;
    }
    if (i == fields_.size()) {
      fields_.push_back(Field{std::string(name), std::string(trim(value))});
      return;
    }
    fields_[i].value.assign(trim(value));
    for (std::size_t j = fields_.size(); j-- > i + 1;) {
      if (iequals(fields_[j].name, name)) fields_.erase(fields_.begin() + static_cast<long>(j));
    }
  }
  /// The value of the first field named `name`, or nullopt; valid until the list changes.
  std::optional<std::string_view> get(std::string_view name) const noexcept {
    for (const Field& f : fields_) {
      if (iequals(f.name, name)) return std::string_view(f.value);
    }
    return std::nullopt;
  }
  /// The values of every field named `name`, in order; valid until the list changes.
  std::vector<std::string_view> get_all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const Field& f : fields_) {
      if (iequals(f.name, name)) values.emplace_back(f.value);
    }
    return values;
  }
  /// Whether a field named `name` is present.
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  /// Removes every field named `name`; returns how many there were.
  std::size_t remove(std::string_view name) noexcept {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (iequals(fields_[i].name, name)) continue;
      if (kept != i) fields_[kept] = std::move(fields_[i]);
      ++kept;
    }
    std::size_t removed = fields_.size() - kept;
    fields_.resize(kept);
    return removed;
  }
  /// Removes every field.
  void clear() noexcept { fields_.clear(); }

  /// Appends each field to `out` as "Name: value\r\n", in order (no final empty line).
  void serialize(std::string& out) const {
    for (const Field& f : fields_) {
      out.append(f.name);
      out.append(": ", 2);
      out.append(f.value);
      out.append("\r\n", 2);
    }
  }
  /// The bytes serialize() appends.
  std::size_t serialized_size() const noexcept {
    std::size_t n = 0;
    for (const Field& f : fields_) n += f.name.size() + f.value.size() + 4;
    return n;
  }

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const Field& operator[](std::size_t i) const noexcept { return fields_[i]; }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }

  /// Whether `name` is a token (RFC 9110 §5.6.2), as a field name must be.
  static constexpr bool valid_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (char c : name) {
      if (!is_tchar(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }
  /// Whether `value` may be sent as a field value: no CR, LF, NUL or other control
  /// character but HTAB (RFC 9110 §5.5).
  static constexpr bool valid_value(std::string_view value) noexcept {
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
    }
    return true;
  }

 private:
  static constexpr bool is_tchar(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  }
  static constexpr std::string_view trim(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  }
  static void check(std::string_view name, std::string_view value) {
    if (!valid_name(name)) {
      throw std::invalid_argument("http::Fields: invalid header name \"" + std::string(name) +
                                  "\"");
    }
    if (!valid_value(value)) {
      throw std::invalid_argument("http::Fields: invalid character in the value of header " +
                                  std::string(name));
    }
  }

  std::vector<Field> fields_;
};

}  // namespace weft::http
