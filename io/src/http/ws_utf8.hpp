// Incremental UTF-8 validation for WebSocket text (RFC 6455 §8.1; RFC 3629 §3-4).
//
// A text message arrives in frames and a frame in reads, and a code point may be split
// anywhere, so the validator carries the state of an unfinished sequence from one call to
// the next. It rejects at the first byte that no valid text can continue: a byte that never
// appears in UTF-8 (C0, C1, F5-FF), a continuation byte without a lead byte, a lead byte
// where a continuation byte belongs, an overlong form (E0 80-9F.., F0 80-8F..), a surrogate
// (ED A0-BF..) and anything above U+10FFFF (F4 90-BF.., F5 and up). RFC 6455 §8.1 asks for
// that early failure ("fail fast"), so a peer cannot make a receiver buffer a whole invalid
// message before it is refused.
//
// Runs of ASCII, the common case, are skipped 8 bytes at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace weft::http::ws::detail {

class Utf8Validator {
 public:
  /// Validates the next bytes of the text. Returns false once the bytes so far cannot begin
  /// any valid UTF-8 text; from then on it keeps returning false until reset().
  bool feed(std::span<const std::byte> bytes) noexcept;
  /// True when the bytes fed so far are valid UTF-8 that ends on a whole code point.
  bool complete() const noexcept { return need_ == 0; }
  /// Forgets all bytes fed, to validate a new text.
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  static constexpr std::uint8_t kInvalid = 0xFF;
  // Continuation bytes still expected (kInvalid once rejected), and the range the next one
  // must fall in: narrower than 80-BF right after E0, ED, F0 and F4.
  std::uint8_t need_ = 0;
  std::uint8_t lo_ = 0x80;
  std::uint8_t hi_ = 0xBF;
};

/// True when `text` is whole, valid UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace weft::http::ws::detail
