// weft::http::ResponseParser: an HTTP/1.1 response head (RFC 9112 §4, §5, §6), read
// incrementally from a client connection's buffer without copying, for the request it
// answers (the method decides whether a body follows).
//
// Body framing, RFC 9112 §6.3 in its order: a response to HEAD, any 1xx, 204 and 304 have
// none, nor does a 2xx to CONNECT (the connection becomes a tunnel); then Transfer-Encoding:
// chunked last is kChunked, any other coding list is kUntilClose (a Content-Length beside
// it is ignored and the connection is not reused); then Content-Length; then kUntilClose.
// An invalid Content-Length is an error, as the RFC requires of a user agent. Keep-alive:
// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive", and
// never after a body read until close. Lines and fields as in head_parser.hpp; the reason
// phrase may be missing altogether ("HTTP/1.1 200\r\n"), as some servers send it.
#pragma once

#include <string_view>

#include "head_parser.hpp"

namespace weft::http {

class ResponseParser : public detail::HeadParser {
 public:
  /// A parser for the response to a `request_method` request.
  explicit ResponseParser(const HeadLimits& limits = {}, Method request_method = Method::kGet)
      : HeadParser(limits), request_method_(request_method) {}

  /// Parses the response head at the start of `data` (the whole message so far, as
  /// RequestParser::parse). Throws UsageError if `data` is shorter than what an earlier call
  /// read. Not thread-safe.
  ParseStatus parse(std::string_view data);
  /// The response, once parse() returned kDone; its views point into the last `data`.
  const ResponseHead& head() const noexcept { return head_; }
  /// Forgets the response, for the next one, which answers a `request_method` request
  /// (after a 1xx, the same request's next response).
  void reset(Method request_method) noexcept {
    reset_head();
    head_ = {};
    request_method_ = request_method;
  }

 private:
  ParseStatus parse_status_line(std::string_view data);
  ParseStatus finish();

  Method request_method_;
  ResponseHead head_;
};

}  // namespace weft::http
