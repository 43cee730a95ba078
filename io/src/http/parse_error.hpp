// weft::http::ParseError: what one of weft's HTTP/1.1 parsers found wrong, where, and the
// status a server answers it with.
//
// The parsers return errors rather than throw: they run on every request, and the fuzzers
// drive them millions of times. A ParseError is a code and the offset of the offending byte,
// counted from the first byte the parser was given; message() spells both out. status() is
// the answer a server gives: 400 for a malformed message, 414 for a request line over its
// limit, 431 for a head (or trailer section) over its limits, 413 for a body over its limit,
// 501 for a transfer coding weft does not implement, 505 for an HTTP major version other
// than 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::http {

/// What a parser rejected. See describe() for each one's meaning.
enum class ParseErrc : std::uint8_t {
  kNone,
  // The start line (400 unless noted).
  kBadMethod,
  kBadTarget,
  kBadVersion,
  kUnsupportedVersion,  // 505
  kBadStatusLine,
  kStartLineTooLong,  // 414
  // Line structure and header fields.
  kBareLf,
  kBareCr,
  kObsFold,
  kBadHeaderName,
  kSpaceBeforeColon,
  kBadHeaderValue,
  kHeadTooLarge,    // 431
  kTooManyHeaders,  // 431
  // What the fields say.
  kMissingHost,
  kDuplicateHost,
  kBadHost,
  kBadContentLength,
  kConflictingContentLength,
  kContentLengthWithTransferEncoding,
  kChunkedNotLast,
  kBadTransferEncoding,
  kUnsupportedTransferCoding,  // 501
  kTransferEncodingInHttp10,
  // Chunked bodies.
  kBadChunkSize,
  kChunkSizeTooLong,
  kBadChunkExtension,
  kChunkExtensionsTooLong,
  kBadChunkEnd,
  kBadTrailer,
  kTrailersTooLarge,  // 431
  kBodyTooLarge,      // 413
};

/// A short phrase naming the fault: "invalid character in header name".
std::string_view describe(ParseErrc code) noexcept;

/// The status a server answers `code` with (400, 413, 414, 431, 501 or 505).
int status_for(ParseErrc code) noexcept;

/// A parser's error: what and at which byte.
struct ParseError {
  ParseErrc code = ParseErrc::kNone;
  std::size_t offset = 0;  ///< of the offending byte, from the first byte parsed

  explicit operator bool() const noexcept { return code != ParseErrc::kNone; }
  int status() const noexcept { return status_for(code); }
  /// "invalid character in header name at byte 23".
  std::string message() const;
  friend bool operator==(const ParseError&, const ParseError&) = default;
};

/// How far a parse got.
enum class ParseStatus : std::uint8_t {
  kNeedMore,  ///< the message is not complete yet: call again with more bytes
  kDone,      ///< complete: consumed() bytes belong to it
  kError,     ///< malformed or over a limit: error() says what; the connection is unusable
};

}  // namespace weft::http
