// weft::http::Request: one request as a handler sees it — its head as views into the
// connection's read buffer, the route's path parameters, and its body, read on demand.
//
// Nothing of the head is copied: method, target, path, headers and parameters are views
// valid until the handler's Task returns (copy what must outlive it into a std::string).
// The path is percent-decoded once, before routing, into the connection's own buffer (only
// if it holds an escape); the query is decoded when first asked for.
//
// The body stays on the connection until the handler asks for it: `co_await req.text()`
// (or bytes()) reads it whole under ServerOptions::max_body (HttpError 413 past it, before
// reading when Content-Length says so); `req.body().read(buf)` streams it (0 at its end;
// chunked bodies arrive decoded, without a limit of the server's). Reading is what sends
// "100 Continue" to a client that asked for it. A body the handler leaves unread is drained
// by the server before the next request on the connection (up to ServerOptions::max_drain;
// past that the connection is closed after the response).
//
// Threads: a Request belongs to its connection's task; use it from the handler's task only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/http/headers.hpp"
#include "weft/io/http/method.hpp"
#include "weft/io/net/address.hpp"

namespace weft::http {

namespace detail {
class Connection;
}

/// A request's body as a stream (Request::body()).
class BodyReader {
 public:
  /// Reads up to buf.size() body bytes (at least one unless the body ended): 0 at its end.
  /// Throws HttpError(400) for a malformed chunked body, std::runtime_error if the client
  /// closed the connection before the body's end, TimeoutError after
  /// ServerOptions::read_timeout without a byte.
  Task<std::size_t> read(std::span<std::byte> buf);

 private:
  friend class Request;
  friend class detail::Connection;
  detail::Connection* conn_ = nullptr;
};

class Request {
 public:
  /// The largest number of `{name}` parameters a route may have.
  static constexpr std::size_t kMaxParams = 8;

  Method method() const noexcept { return method_; }
  /// The method as sent ("GET", or any other token).
  std::string_view method_name() const noexcept { return method_name_; }
  /// The request-target as sent ("/a%20b?x=1"), still percent-encoded.
  std::string_view target() const noexcept { return target_; }
  /// The target's path, percent-decoded ("/a b").
  std::string_view path() const noexcept { return path_; }
  /// The target's query after '?', as sent (encoded); "" if none.
  std::string_view raw_query() const noexcept { return raw_query_; }
  /// The first value of query parameter `name`, decoded ('+' is a space), or nullopt.
  /// Throws HttpError(400) if the query holds a bad escape.
  std::optional<std::string> query(std::string_view name) const;
  /// Every query parameter in order, decoded. Throws HttpError(400) on a bad escape.
  const std::vector<std::pair<std::string, std::string>>& query_params() const;

  /// The header fields, in order; lookups ignore case.
  HeaderView headers() const noexcept { return headers_; }
  /// The first value of header `name`, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    return headers_.get(name);
  }
  /// Every value of header `name`, in order.
  std::vector<std::string_view> header_all(std::string_view name) const;

  /// The path parameter `name` of the matched route ("/users/{id}"). Throws
  /// std::out_of_range naming it if the route has no such parameter.
  std::string_view param(std::string_view name) const;
  /// Whether the matched route has a parameter `name`.
  bool has_param(std::string_view name) const noexcept;

  /// The client's address ("unix:" paths for a Unix socket).
  const net::SocketAddress& peer() const noexcept { return *peer_; }
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  int version_minor() const noexcept { return version_minor_; }
  /// Whether the client asked to keep the connection open after this request.
  bool keep_alive() const noexcept { return keep_alive_; }
  /// The body's Content-Length, nullopt for a chunked body or none.
  std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
  /// Whether the request has a body (Content-Length above 0, or chunked).
  bool has_body() const noexcept { return has_body_; }

  /// The whole body as text, read under ServerOptions::max_body. Throws HttpError(413)
  /// past the limit, and what BodyReader::read throws. The body is read once: a second
  /// call (or one after body() reads) gets what was left.
  Task<std::string> text();
  /// The whole body as bytes; as text().
  Task<std::vector<std::byte>> bytes();
  /// The body as a stream, without the server's limit.
  BodyReader& body() noexcept { return body_; }

 private:
  friend class detail::Connection;
  friend class Router;
  void add_param(std::string_view name, std::string_view value) noexcept {
    params_[param_count_++] = {name, value};
  }

  Method method_ = Method::kOther;
  int version_minor_ = 1;
  bool keep_alive_ = false;
  bool has_body_ = false;
  std::uint8_t param_count_ = 0;
  std::string_view method_name_, target_, path_, raw_query_;
  HeaderView headers_;
  std::optional<std::uint64_t> content_length_;
  const net::SocketAddress* peer_ = nullptr;
  std::array<std::pair<std::string_view, std::string_view>, kMaxParams> params_{};
  mutable std::optional<std::vector<std::pair<std::string, std::string>>> query_;
  BodyReader body_;
  detail::Connection* conn_ = nullptr;
  // Set by routing when no handler matched: 404, or 405 with the Allow value.
  int route_status_ = 0;
  std::string allow_;
};

}  // namespace weft::http
