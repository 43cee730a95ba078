// weft::http::RequestParser: an HTTP/1.1 request head (RFC 9112 §3, §5, §6), read
// incrementally from a connection's buffer without copying or, once warm, allocating.
//
// A server keeps one parser per connection: parse() the buffered bytes until kDone, serve
// the request (head() views the buffer), drop consumed() bytes plus the body, reset(), and
// parse again — pipelined requests already in the buffer parse without another read.
//
// What it accepts, besides what head_parser.hpp says of lines and fields:
// - Method: a token (RFC 9110 §9.1), case-sensitive. Empty lines before the request line
//   are skipped (RFC 9112 §2.2), within max_head.
// - Target: origin-form ("/p?q"), absolute-form ("http://h/p", scheme "://" required),
//   "*" for OPTIONS only, authority-form ("host:port") for CONNECT only, which takes no
//   other form (§3.2). Characters: visible ASCII but '#' (chars.hpp says why).
// - Version: HTTP/1.0 and HTTP/1.1; HTTP/1.2 and up read as 1.1 (RFC 9110 §2.5); another
//   major version is kUnsupportedVersion (505).
// - Host: required once in HTTP/1.1, never twice, with a valid value (§3.2).
// - Body framing (§6.1, §6.3): Transfer-Encoding must list "chunked" last and once, and no
//   other coding (weft decodes none: 501); with Content-Length too, or in an HTTP/1.0
//   request, it is refused (400) rather than guessed at — the request smuggling rule.
//   Content-Length: 1*DIGIT within 64 bits; repeated identical values are one value,
//   differing ones are an error. Neither: no body (a request is never read until close).
// A request over a body limit is the server's to refuse (it knows its limit per route).
#pragma once

#include <string_view>

#include "head_parser.hpp"

namespace weft::http {

class RequestParser : public detail::HeadParser {
 public:
  explicit RequestParser(const HeadLimits& limits = {}) : HeadParser(limits) {}

  /// Parses the request head at the start of `data` (the whole message so far: the same
  /// bytes plus any new ones at each call). kDone: head() and consumed() describe it.
  /// kError: error() says what and where; the connection should be answered
  /// error().status() and closed. Throws UsageError if `data` is shorter than what an
  /// earlier call read. One parser belongs to one connection (not thread-safe).
  ParseStatus parse(std::string_view data);
  /// The request, once parse() returned kDone; its views point into the last `data`.
  const RequestHead& head() const noexcept { return head_; }
  /// Forgets the request, for the next one on the connection (keeps the field storage).
  void reset() noexcept {
    reset_head();
    head_ = {};
  }

 private:
  ParseStatus parse_request_line(std::string_view data);
  ParseStatus finish();

  RequestHead head_;
};

}  // namespace weft::http
