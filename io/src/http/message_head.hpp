// What the head parsers produce: a request's or a response's start line, its header fields
// as views into the parsed bytes, and what RFC 9112 derives from them (how the body is
// framed, whether the connection stays open, upgrades) — and the limits they enforce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/io/http/headers.hpp"
#include "weft/io/http/method.hpp"

namespace weft::http {

/// Limits on a message head, given by the server (or client) to its parsers. Each one that
/// is exceeded is its own error (ParseErrc), which a server answers with its own status.
struct HeadLimits {
  /// The whole head: start line, fields and the empty line that ends them (431).
  std::size_t max_head = 16 * 1024;
  /// The request line (414) or status line, its CRLF included.
  std::size_t max_start_line = 8 * 1024;
  /// Header fields (431).
  std::size_t max_headers = 100;
};

/// How a message's body is delimited (RFC 9112 §6.3).
enum class Framing : std::uint8_t {
  kNone,        ///< no body
  kLength,      ///< BodyFraming::length bytes (Content-Length)
  kChunked,     ///< chunked transfer coding (ChunkedDecoder)
  kUntilClose,  ///< responses only: everything until the server closes the connection
};

struct BodyFraming {
  Framing kind = Framing::kNone;
  std::uint64_t length = 0;  ///< for kLength
  friend bool operator==(const BodyFraming&, const BodyFraming&) = default;
};

/// The request-target's form (RFC 9112 §3.2).
enum class TargetForm : std::uint8_t {
  kOrigin,     ///< "/path?query"
  kAbsolute,   ///< "http://host/path?query" (to proxies; servers must accept it too)
  kAuthority,  ///< "host:port", CONNECT only
  kAsterisk,   ///< "*", OPTIONS only
};

/// A parsed request head. Views point into the bytes given to RequestParser::parse.
struct RequestHead {
  Method method = Method::kOther;
  std::string_view method_name;  ///< as sent: "GET"
  std::string_view target;       ///< as sent, still percent-encoded
  TargetForm target_form = TargetForm::kOrigin;
  int version_minor = 1;  ///< HTTP/1.0 or HTTP/1.1 (1.2 and up are read as 1.1)
  HeaderView headers;
  BodyFraming body;
  /// Whether the connection may carry another request after this one: HTTP/1.1 unless
  /// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = false;
  /// "Expect: 100-continue" in an HTTP/1.1 request (HTTP/1.0 ones ignore it, RFC 9110
  /// §10.1.1): the client waits for "100 Continue" before it sends the body.
  bool expect_continue = false;
  /// The Upgrade field's value when Connection lists "upgrade", else empty.
  std::string_view upgrade;

  /// Whether the request asks to switch to WebSocket (RFC 6455 §4.2.1: Upgrade lists
  /// "websocket"); the handshake's other fields are the WebSocket code's to check.
  bool websocket_upgrade() const noexcept {
    return method == Method::kGet && has_token(upgrade, "websocket");
  }
};

/// A parsed response head. Views point into the bytes given to ResponseParser::parse.
struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version_minor = 1;
  HeaderView headers;
  BodyFraming body;
  /// Whether the connection may carry another request once this body has been read.
  bool keep_alive = false;
  /// The Upgrade field's value in a 101 response, else empty.
  std::string_view upgrade;

  /// 1xx: an interim response; the final one follows on the same connection.
  bool interim() const noexcept { return status >= 100 && status < 200; }
};

}  // namespace weft::http
