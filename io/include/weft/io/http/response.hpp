// weft::http::Response: what a handler returns — a status, header fields and a body, which
// is one of three kinds:
//   - buffered: a string sent with Content-Length (Response::text, Response::bytes, the
//     constructors);
//   - streamed: a coroutine that writes the body in pieces (Response::stream), sent with
//     chunked encoding to HTTP/1.1 clients and delimited by closing the connection for
//     HTTP/1.0 ones;
//   - a file: Response::file(path), sent with Content-Length by sendfile(2) on a plain TCP
//     connection and by reads and writes otherwise (TLS); 404 if it cannot be opened.
// The server adds Date, Server, the framing fields (Content-Length or Transfer-Encoding) and
// Connection; a Content-Length, Transfer-Encoding or Connection the handler sets is
// ignored, since the server decides how the message is framed. To a HEAD request the server
// sends the head only, with the Content-Length a GET would get (a stream is not run).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/http/fields.hpp"
#include "weft/io/http/status.hpp"
#include "weft/io/http/websocket.hpp"

namespace weft::http {

namespace detail {
class Connection;
}

/// Where a streamed response's coroutine writes its body (Response::stream).
class BodyWriter {
 public:
  /// Sends `data` as the next piece of the body (one chunk; nothing for empty data). Throws
  /// std::system_error if the client went away, TimeoutError after
  /// ServerOptions::write_timeout.
  Task<void> write(std::string_view data);
  Task<void> write(std::span<const std::byte> data);

 private:
  friend class detail::Connection;
  detail::Connection* conn_ = nullptr;
};

/// Produces a streamed body (Response::stream); returns when the body is complete.
using BodyProducer = std::function<Task<void>(BodyWriter&)>;

/// Runs a WebSocket connection that a route accepted (Response::websocket); the connection
/// ends when it returns.
using WebSocketHandler = std::function<Task<void>(ws::WebSocket&)>;

/// What a route that accepts WebSocket connections offers (Response::websocket).
struct WebSocketOptions {
  /// Subprotocols this route speaks, preferred first; the one chosen is the first of these
  /// that the client offered (ws::WebSocket::subprotocol()), none if it offered none.
  std::vector<std::string> subprotocols{};
  /// The connection's own options (maximum message, close timeout).
  ws::Options options{};
};

class Response {
 public:
  enum class Kind : std::uint8_t { kBuffered, kStream, kFile, kWebSocket };

  /// 200 with an empty body.
  Response() noexcept = default;
  /// `status` with an empty body. Throws std::invalid_argument outside 100..999.
  explicit Response(int status) : status_(checked(status)) {}
  /// `status` with `body` as text/plain (UTF-8) unless a Content-Type is set. Throws
  /// std::invalid_argument outside 100..999.
  Response(int status, std::string body)
      : status_(checked(status)), body_(std::move(body)), default_type_(kTextPlain) {}

  /// 200 (or `status`) with `body` as text/plain; charset=utf-8.
  static Response text(std::string body, int status = status::kOk) {
    return Response(status, std::move(body));
  }
  /// 200 (or `status`) with `data` as application/octet-stream.
  static Response bytes(std::span<const std::byte> data, int status = status::kOk) {
    Response r(status);
    r.body_.assign(reinterpret_cast<const char*>(data.data()), data.size());
    r.default_type_ = kOctetStream;
    return r;
  }
  /// A body written by `producer` as it runs (see the top of this header), with
  /// `content_type`. Throws std::invalid_argument for an empty producer.
  static Response stream(BodyProducer producer,
                         std::string_view content_type = "application/octet-stream",
                         int status = status::kOk);
  /// The file at `path` with `content_type` (by default from the extension: .html, .txt,
  /// .css, .js, .json, .png, .jpg, .svg, else application/octet-stream); 404 if it cannot be
  /// opened when the response is sent.
  static Response file(std::filesystem::path path, std::string_view content_type = {});
  /// Accepts the request as a WebSocket opening handshake (RFC 6455 §4.2) and runs `handler`
  /// on the connection once the 101 is sent; the HTTP connection ends with the handler,
  /// which is closed with 1000 if it is still open then (1011 if the handler threw, which
  /// goes to ServerOptions::on_error). A request that is not a valid handshake gets 400 (426
  /// for a WebSocket version other than 13) and the handler does not run. The status and
  /// header fields set on this Response are not sent. Throws std::invalid_argument for an
  /// empty handler.
  static Response websocket(WebSocketHandler handler, WebSocketOptions options = {});

  int status() const noexcept { return status_; }
  /// Throws std::invalid_argument outside 100..999.
  Response& set_status(int status) {
    status_ = checked(status);
    return *this;
  }
  Fields& headers() noexcept { return headers_; }
  const Fields& headers() const noexcept { return headers_; }
  /// Adds a header field (Fields::add; throws std::invalid_argument as it does).
  Response& header(std::string_view name, std::string_view value) {
    headers_.add(name, value);
    return *this;
  }
  Kind kind() const noexcept { return kind_; }
  /// The buffered body.
  const std::string& body() const noexcept { return body_; }
  std::string& body() noexcept { return body_; }
  /// Makes the body buffered and `body`, text/plain unless a Content-Type is set.
  Response& set_body(std::string body) {
    kind_ = Kind::kBuffered;
    body_ = std::move(body);
    if (default_type_ == nullptr) default_type_ = kTextPlain;
    return *this;
  }
  /// The file of a file response.
  const std::filesystem::path& file_path() const noexcept { return path_; }

 private:
  friend class detail::Connection;
  static constexpr const char* kTextPlain = "text/plain; charset=utf-8";
  static constexpr const char* kOctetStream = "application/octet-stream";
  static int checked(int status);

  int status_ = status::kOk;
  Kind kind_ = Kind::kBuffered;
  Fields headers_;
  std::string body_;
  // The Content-Type sent unless headers_ has one: a static string, or nullptr for none.
  const char* default_type_ = nullptr;
  BodyProducer producer_;
  std::filesystem::path path_;
  WebSocketHandler ws_handler_;
  WebSocketOptions ws_options_;
};

}  // namespace weft::http
