// detail::HeadParser: what the request and response head parsers share — finding lines in a
// growing buffer under the limits, header field lines, and reading the fields that frame a
// message (Content-Length, Transfer-Encoding, Connection).
//
// The incremental contract. parse(data) is called with the bytes of the connection from the
// first byte of this message on, and again with the same bytes plus more after a
// kNeedMore; the buffer may have moved in between (a std::vector that grew), so everything
// kept from an earlier call is an offset or is moved to the new buffer. Each byte is read
// once, however the message is split: the start line is read once its LF is there (the
// search for it resumes where the previous call stopped), and field lines are read in one
// pass — the name's token characters, the colon, the value's characters up to CR LF — which
// a later call resumes mid-line. A head fed one byte at a time costs O(size), not O(size²).
//
// Every outcome is a function of the bytes alone, never of how they were split between
// calls: the start line is judged whole, once complete or once over its limit; a field line
// is judged byte by byte in order, and its first byte that no valid head could have there is
// the error; each limit is checked at a position fixed by the bytes (the LF of a line must
// come before `line start + max_start_line` or before `max_head`). So a message fed in
// pieces parses exactly as it does whole — the fuzzers check this on every input.
//
// Line endings: CRLF only. RFC 9112 §2.2 lets a recipient accept a bare LF; weft does not,
// in requests, responses or chunked framing, because two parsers that disagree on line
// endings are how requests get smuggled past a proxy, and every client weft talks to sends
// CRLF. A bare CR is rejected too (the RFC's other choice, replacing it with SP, would need
// a copy). obs-fold (a field line starting with whitespace) is rejected in requests as
// RFC 9112 §5.2 allows; in responses the RFC asks a user agent to unfold, which would need a
// copy of the head, so weft rejects it there too — no current server sends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "message_head.hpp"
#include "parse_error.hpp"

namespace weft::http::detail {

/// What a message's header fields say about its framing and connection, read in one pass
/// over the fields once the head is complete. (Kept within a cache line: it is cleared for
/// every message.)
struct FieldSummary {
  ParseError error;  ///< the first malformed framing (or, for a request, Host) field
  std::uint64_t length = 0;
  std::size_t transfer_encoding_at = 0;  ///< offset of the first Transfer-Encoding field
  std::uint32_t codings = 0;             ///< transfer codings listed, all fields together
  std::uint32_t host_count = 0;
  std::string_view upgrade_value;  ///< the first Upgrade field's
  bool has_length = false;
  bool has_transfer_encoding = false;
  bool chunked_last = false;       ///< the last coding listed is "chunked"
  bool chunked_misplaced = false;  ///< a "chunked" is followed by another coding
  bool close = false, keep_alive = false, upgrade = false;  ///< Connection tokens
  bool expect_continue = false;
};

class HeadParser {
 public:
  /// The bytes of the head once parse() returned kDone.
  std::size_t consumed() const noexcept { return consumed_; }
  /// What was wrong once parse() returned kError.
  const ParseError& error() const noexcept { return error_; }

 protected:
  enum class Phase : std::uint8_t { kStartLine, kFields, kDone, kError };
  enum class Line : std::uint8_t { kFound, kNeedMore, kTooLong };

  explicit HeadParser(const HeadLimits& limits) : limits_(limits) {}

  void reset_head() noexcept;
  /// Called first by parse(): moves the kept views when `data` is not where it was.
  /// Returns the old base (nullptr if nothing moved) for the caller's own views.
  const char* follow(std::string_view data);
  static void move_view(std::string_view& v, const char* from, const char* to) noexcept;

  /// Looks for the LF that ends the (start) line at pos_, before index `limit_end`.
  Line find_line(std::string_view data, std::size_t limit_end, std::size_t& lf) noexcept;
  /// Reads field lines from pos_ through the empty line; kDone sets consumed_.
  ParseStatus parse_fields(std::string_view data);
  /// Reads the framing fields, and for a request Host; summary.error is set if one is
  /// malformed (a second Host field is kDuplicateHost).
  FieldSummary summarize(bool request) const;

  ParseStatus fail(ParseErrc code, std::size_t offset) noexcept {
    error_ = {code, offset};
    phase_ = Phase::kError;
    return ParseStatus::kError;
  }
  std::size_t offset_of(const char* p) const noexcept {
    return static_cast<std::size_t>(p - base_);
  }

  HeadLimits limits_;
  Phase phase_ = Phase::kStartLine;
  static constexpr std::size_t kNoColon = ~std::size_t{0};

  std::size_t pos_ = 0;   ///< start of the line being read
  std::size_t scan_ = 0;  ///< [pos_, scan_) of that line is read: the next call resumes here
  std::size_t colon_ = kNoColon;  ///< the field line's colon, once read
  std::size_t consumed_ = 0;
  const char* base_ = nullptr;  ///< where `data` was at the last call
  ParseError error_;
  std::vector<HeaderField> fields_;  ///< reused from message to message
};

}  // namespace weft::http::detail
