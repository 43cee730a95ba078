// Incremental UTF-8 validation (ws_utf8.hpp).
#include "ws_utf8.hpp"

#include <cstring>

namespace weft::http::ws::detail {

bool Utf8Validator::feed(std::span<const std::byte> bytes) noexcept {
  if (need_ == kInvalid) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  while (p != end) {
    if (need_ == 0) {
      // Between code points: skip ASCII a word at a time.
      while (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, sizeof w);
        if (w & 0x8080808080808080u) break;
        p += 8;
      }
      if (p == end) break;
      const unsigned char b = *p++;
      if (b < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        need_ = 2;
        if (b == 0xE0) lo_ = 0xA0;  // below: overlong, a code point under U+0800
        if (b == 0xED) hi_ = 0x9F;  // above: U+D800-DFFF, the surrogates
      } else if (b >= 0xF0 && b <= 0xF4) {
        need_ = 3;
        if (b == 0xF0) lo_ = 0x90;  // below: overlong, a code point under U+10000
        if (b == 0xF4) hi_ = 0x8F;  // above: beyond U+10FFFF
      } else {
        // 80-BF: a continuation byte with no lead; C0, C1: overlong two-byte forms;
        // F5-FF: beyond U+10FFFF or never in UTF-8.
        need_ = kInvalid;
        return false;
      }
    } else {
      const unsigned char b = *p++;
      if (b < lo_ || b > hi_) {
        need_ = kInvalid;
        return false;
      }
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
    }
  }
  return true;
}

bool is_valid_utf8(std::string_view text) noexcept {
  Utf8Validator v;
  return v.feed(std::as_bytes(std::span(text))) && v.complete();
}

}  // namespace weft::http::ws::detail
