// The character classes of HTTP/1.1's grammar (RFC 9110 §5.6, RFC 9112) as 256-entry
// tables, and scanners that skip valid bytes eight at a time.
//
// The scanners return the index of the first byte outside a class, or `end`; the caller
// decides what that byte means (the expected delimiter or an error at that offset). The
// word-at-a-time tests only look for "some byte in this word may be special": a word that
// has one is re-read byte by byte with the table, so a false alarm (the subtraction trick
// can flag a byte above a special one) costs time, never correctness.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace weft::http::chars {

using Table = std::array<bool, 256>;

constexpr bool is_alpha(unsigned char c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
constexpr bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/// tchar (RFC 9110 §5.6.2): the characters of methods, field names and tokens.
constexpr Table make_token() {
  Table t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = is_alpha(static_cast<unsigned char>(c)) || is_digit(static_cast<unsigned char>(c));
  }
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}

/// field-content (RFC 9110 §5.5): VCHAR, SP, HTAB and obs-text; no other control character.
/// Reason phrases and chunk extensions take the same characters.
constexpr Table make_value() {
  Table t{};
  for (int c = 0; c < 256; ++c) t[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
  return t;
}

/// The request-target's characters: visible ASCII but '#' (a fragment is never sent).
/// RFC 3986 allows fewer (no '"', '<', '>', '\', '^', '`', '{', '|', '}'), but browsers send
/// some of those raw in paths and queries, and none of them can confuse HTTP's framing.
constexpr Table make_target() {
  Table t{};
  for (int c = 0x21; c < 0x7f; ++c) t[c] = c != '#';
  return t;
}

/// The Host value's characters (RFC 9110 §7.2: uri-host [":" port]): reg-name's unreserved,
/// pct-encoded and sub-delims, ':' and the brackets of an IP-literal.
constexpr Table make_host() {
  Table t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = is_alpha(static_cast<unsigned char>(c)) || is_digit(static_cast<unsigned char>(c));
  }
  for (unsigned char c : std::string_view("-._~%!$&'()*+,;=:[]")) t[c] = true;
  return t;
}

inline constexpr Table kToken = make_token();
inline constexpr Table kValue = make_value();
inline constexpr Table kTarget = make_target();
inline constexpr Table kHost = make_host();

inline constexpr std::uint64_t kOnes = 0x0101010101010101ull;
inline constexpr std::uint64_t kHighs = 0x8080808080808080ull;

inline std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

/// Nonzero if some byte of `w` may be below `n` (n <= 128).
constexpr std::uint64_t maybe_less(std::uint64_t w, std::uint8_t n) {
  return (w - kOnes * n) & ~w & kHighs;
}
/// Nonzero if some byte of `w` may equal `b`.
constexpr std::uint64_t maybe_equal(std::uint64_t w, std::uint8_t b) {
  std::uint64_t x = w ^ (kOnes * b);
  return (x - kOnes) & ~x & kHighs;
}

/// The first index in [i, end) whose byte is not in `table`.
inline std::size_t skip(const Table& table, const char* p, std::size_t i, std::size_t end) {
  while (i < end && table[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

/// skip(kValue, ...), eight bytes at a time: field values are the bulk of a head.
inline std::size_t skip_value(const char* p, std::size_t i, std::size_t end) {
  for (;;) {
    while (i + 8 <= end) {
      std::uint64_t w = load8(p + i);
      if ((maybe_less(w, 0x20) | maybe_equal(w, 0x7f)) != 0) break;
      i += 8;
    }
    // A flagged word (a tab is flagged too) or the tail: byte by byte, then words again.
    std::size_t word_end = i + 8 < end ? i + 8 : end;
    for (; i < word_end; ++i) {
      if (!kValue[static_cast<unsigned char>(p[i])]) return i;
    }
    if (i == end) return end;
  }
}

/// skip(kTarget, ...), eight bytes at a time.
inline std::size_t skip_target(const char* p, std::size_t i, std::size_t end) {
  for (;;) {
    while (i + 8 <= end) {
      std::uint64_t w = load8(p + i);
      if ((maybe_less(w, 0x21) | (w & kHighs) | maybe_equal(w, 0x7f) | maybe_equal(w, '#')) != 0) {
        break;
      }
      i += 8;
    }
    std::size_t word_end = i + 8 < end ? i + 8 : end;
    for (; i < word_end; ++i) {
      if (!kTarget[static_cast<unsigned char>(p[i])]) return i;
    }
    if (i == end) return end;
  }
}

}  // namespace weft::http::chars
