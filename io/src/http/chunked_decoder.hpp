// weft::http::ChunkedDecoder: the chunked transfer coding (RFC 9112 §7.1), decoded as the
// bytes arrive, handing out each chunk's data as a view into the caller's buffer.
//
// Unlike the head parsers, the decoder consumes what it reads: decode(input) is given the
// bytes after those that earlier calls consumed, and each call reports how many it took.
// Chunk-size lines, the CRLF after each chunk and the trailer section are read a byte at a
// time into the decoder's state (they are short), so no byte is read twice and a body may be
// split anywhere; chunk data is never copied — a call that reaches data returns a view of
// as much of it as `input` holds and stops there, so the caller can hand it on before
// reading further.
//
// Rules and limits:
// - chunk-size: 1 to 16 hex digits (enough for any 64-bit size; more, even leading zeros,
//   is kChunkSizeTooLong). The sizes' running total over ChunkedLimits::max_body is
//   kBodyTooLarge (413), reported at the size line, before its data is read.
// - chunk extensions (";name=value") carry nothing weft uses: they are skipped, checked only
//   for control characters, and their bytes over a whole body are limited (max_extensions),
//   so a peer cannot make the decoder read forever without making progress.
// - trailer fields are checked like header fields (name token, no whitespace before the
//   colon, no obs-fold, no control characters in values) and then dropped: none of them
//   may change how the message is framed or routed, and keeping them would need a copy
//   (they may span reads). Their bytes are limited (max_trailers, 431).
// - Lines end in CRLF; a bare LF or CR is an error (head_parser.hpp says why).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "parse_error.hpp"

namespace weft::http {

/// Limits on one chunked body.
struct ChunkedLimits {
  /// Data bytes (kBodyTooLarge, 413).
  std::uint64_t max_body = std::numeric_limits<std::uint64_t>::max();
  /// Chunk-extension bytes over the whole body (kChunkExtensionsTooLong, 400).
  std::size_t max_extensions = 4 * 1024;
  /// Trailer-section bytes, its final CRLF included (kTrailersTooLarge, 431).
  std::size_t max_trailers = 8 * 1024;
};

class ChunkedDecoder {
 public:
  enum class Status : std::uint8_t {
    kData,      ///< `data` holds body bytes; call again with the input after `consumed`
    kNeedMore,  ///< all of the input was read, and there is no data to hand out
    kDone,      ///< the body (and its trailers) ended; `consumed` stops right after it
    kError,     ///< error() says what and where; `consumed` is 0
  };
  struct Result {
    Status status;
    std::size_t consumed;   ///< bytes of `input` read by this call
    std::string_view data;  ///< kData: a view into `input`
  };

  explicit ChunkedDecoder(const ChunkedLimits& limits = {}) : limits_(limits) {}

  /// Decodes from `input`, the body bytes after those earlier calls consumed. After kDone
  /// or kError it consumes nothing and returns the same status. Not thread-safe.
  Result decode(std::string_view input) noexcept;
  /// Data bytes announced by the chunk sizes read so far.
  std::uint64_t body_size() const noexcept { return body_size_; }
  /// What was wrong after kError; the offset counts from the body's first byte.
  const ParseError& error() const noexcept { return error_; }
  /// For the next body.
  void reset() noexcept { *this = ChunkedDecoder(limits_); }

 private:
  enum class State : std::uint8_t {
    kSizeStart,
    kSize,
    kSizeSpace,
    kExtension,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerName,
    kTrailerValue,
    kTrailerLf,
    kEndLf,
    kDone,
    kError,
  };

  Result fail(ParseErrc code, std::size_t offset) noexcept;

  ChunkedLimits limits_;
  State state_ = State::kSizeStart;
  unsigned digits_ = 0;
  std::uint64_t size_ = 0;  ///< the chunk being read: its size, then what is left
  std::uint64_t body_size_ = 0;
  std::size_t size_at_ = 0;     ///< offset of the current size line
  std::size_t extensions_ = 0;  ///< extension bytes so far
  std::size_t trailers_ = 0;    ///< trailer bytes so far
  std::size_t offset_ = 0;      ///< body bytes consumed before this call
  ParseError error_;
};

}  // namespace weft::http
