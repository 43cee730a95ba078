// weft::http::Client: an HTTP/1.1 client with a connection pool (aiohttp's ClientSession).
//
//   weft::http::Client client({.limit_per_host = 8, .total_timeout = 30s});
//   weft::http::ClientResponse r = co_await client.get("http://example.com/");
//   std::string body = co_await r.text();           // r.status(), r.headers().get("...")
//
// ## Connections
// One weft::Pool<Connection> per (scheme, host, port), of at most limit_per_host
// connections; a weft::Semaphore of `limit` permits bounds the requests in flight over all
// hosts together (each holds one connection). A connection goes back to its pool once the
// response's body has been read to its end, and is kept for the next request if the
// response allows it (HTTP/1.1 without "Connection: close", HTTP/1.0 with "keep-alive", a
// body framed by length or chunks) for up to keep_alive_idle. A response dropped before its
// body was read gives its connection back if the rest of the body is already buffered, and
// closes it otherwise (reading an unknown amount from a destructor is not possible).
//
// A server may close an idle keep-alive connection at any moment (its keep-alive timeout).
// A connection that sat idle for a second or more is checked before it is reused, by one
// non-blocking read: a connection the server closed, or on which it sent something unasked
// (a 408 before closing), is dropped and another taken, so a request of any method goes on
// a live connection. The server may still close one just as a request goes out. So a
// request on a reused connection that fails
// before any byte of the response arrived is sent again on another connection, if it is
// idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) and its body can be sent again; a
// failure on a new connection is final. (Each stale connection found is closed, so the
// retries are bounded by the pool's size.)
//
// Host names are resolved on the blocking pool (net::resolve), never on a worker.
//
// ## Timeouts
// connect_timeout bounds making a connection (resolving, connecting, the TLS handshake),
// total_timeout the whole request from the call to the end of the body, read_timeout each
// wait for bytes from the server. Each raises weft::TimeoutError naming the method, the URL
// and which timeout. Duration::max() turns one off.
//
// ## Threads
// A Client may be used by tasks on any worker at once. One ClientResponse is used by one
// task at a time. A ClientResponse keeps the client's shared state alive; it may outlive the
// Client object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <weft/runtime/async_generator.hpp>
#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "weft/io/http/client_url.hpp"
#include "weft/io/http/fields.hpp"
#include "weft/io/http/headers.hpp"
#include "weft/io/http/method.hpp"
#include "weft/io/tls/context.hpp"

namespace weft::http {

namespace detail {
struct ClientState;
struct ClientConnection;
struct ResponseState;
}  // namespace detail

/// The server's response was not valid HTTP/1.1, a redirect could not be followed, or the
/// client was misused by the server (too many redirects). what() names the method and URL.
class ClientError : public std::runtime_error {
 public:
  explicit ClientError(const std::string& what) : std::runtime_error(what) {}
};

/// More redirects than ClientOptions::max_redirects (or RequestOptions').
class TooManyRedirects : public ClientError {
 public:
  explicit TooManyRedirects(const std::string& what) : ClientError(what) {}
};

/// Connecting to the server, sending the request or reading the response failed: a socket
/// error (code() its errno), a TLS error (code() in tls's categories), or the server closing
/// the connection before the response ended. what() is "METHOD URL: " and the cause.
class ClientConnectionError : public std::system_error {
 public:
  ClientConnectionError(std::error_code code, std::string what)
      : std::system_error(code), what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

/// How a Client connects and what it sends with every request (designated initializers).
struct ClientOptions {
  /// Connections at most to one (scheme, host, port). At least 1.
  std::size_t limit_per_host = 100;
  /// Requests in flight at most over all hosts (aiohttp's `limit`). At least 1.
  std::size_t limit = 100;
  /// Resolving, connecting and the TLS handshake of one connection.
  Duration connect_timeout = std::chrono::seconds(30);
  /// One request, from the call to the end of its body (redirects included).
  Duration total_timeout = std::chrono::minutes(5);
  /// Each wait for the server's next bytes.
  Duration read_timeout = Duration::max();
  /// Redirects followed at most before TooManyRedirects.
  int max_redirects = 10;
  /// Fields sent with every request (a request's own fields of the same name replace them).
  Fields default_headers{};
  /// The TLS configuration for https; by default a client context on the system's trust
  /// store, verification on (tls::Context::client()).
  std::optional<tls::Context> tls{};
  /// How long an idle keep-alive connection is kept.
  Duration keep_alive_idle = std::chrono::seconds(15);
  /// The most text() and bytes() read unless given another limit.
  std::size_t max_body_size = 64 * 1024 * 1024;
};

/// A request's body: none, bytes (sent with Content-Length), or a stream of chunks made by
/// a function (sent with chunked encoding; the function is called again for a retry or a
/// 307/308 redirect, so the body can be sent more than once).
class RequestBody {
 public:
  using Stream = std::function<AsyncGenerator<std::string>()>;

  /// No body.
  RequestBody() = default;
  /// These bytes, with Content-Length.
  RequestBody(std::string data) : data_(std::move(data)), has_data_(true) {}
  RequestBody(std::string_view data) : RequestBody(std::string(data)) {}
  RequestBody(const char* data) : RequestBody(std::string(data)) {}
  /// The chunks `make()` yields, with Transfer-Encoding: chunked (empty chunks are skipped).
  static RequestBody stream(Stream make) {
    RequestBody b;
    b.stream_ = std::move(make);
    return b;
  }

  bool empty() const noexcept { return !has_data_ && !stream_; }
  bool is_stream() const noexcept { return static_cast<bool>(stream_); }
  const std::string& data() const noexcept { return data_; }
  const Stream& stream_maker() const noexcept { return stream_; }

 private:
  std::string data_;
  bool has_data_ = false;
  Stream stream_;
};

/// What one request sends beyond its method and URL.
struct RequestOptions {
  /// Fields for this request (Host, Content-Length and Transfer-Encoding are the client's).
  Fields headers{};
  RequestBody body{};
  /// Follow 301/302/303/307/308 redirects.
  bool allow_redirects = true;
  /// Overrides ClientOptions::max_redirects when set.
  std::optional<int> max_redirects{};
  /// Override the client's timeouts for this request when set.
  std::optional<Duration> total_timeout{};
  std::optional<Duration> read_timeout{};
};

/// The response to a request: its status and head at once, its body as it is read. Move-only.
class ClientResponse {
 public:
  ClientResponse() noexcept;
  explicit ClientResponse(std::unique_ptr<detail::ResponseState> state) noexcept;
  ClientResponse(ClientResponse&&) noexcept;
  ClientResponse& operator=(ClientResponse&&) noexcept;
  /// Gives the connection back (or closes it; see the file comment). Never throws.
  ~ClientResponse();

  /// The status code (200).
  int status() const noexcept;
  /// The reason phrase as sent ("OK"; may be empty). Valid while the response lives.
  std::string_view reason() const noexcept;
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  int version_minor() const noexcept;
  /// The header fields (case-insensitive lookups). Valid while the response lives.
  HeaderView headers() const noexcept;
  /// The URL this response came from (after redirects).
  const Url& url() const noexcept;
  /// The method of the request this response answers.
  Method method() const noexcept;
  /// How many redirects led here.
  int redirects() const noexcept;
  /// True for 2xx.
  bool ok() const noexcept { return status() >= 200 && status() < 300; }

  /// The rest of the body as text. Throws std::length_error if it is longer than
  /// `limit` (ClientOptions::max_body_size by default), ClientConnectionError,
  /// ClientError for a malformed chunked body, weft::TimeoutError. A cancellation point.
  Task<std::string> text(std::optional<std::size_t> limit = std::nullopt);
  /// The same as bytes.
  Task<std::vector<std::byte>> bytes(std::optional<std::size_t> limit = std::nullopt);
  /// Reads at most `buf.size()` bytes of the body, at least one; 0 at its end (after which
  /// the connection has gone back to the pool). Throws as text().
  Task<std::size_t> read(std::span<std::byte> buf);
  /// True once the whole body has been read.
  bool body_complete() const noexcept;
  /// Lets go of the connection now, as the destructor does.
  void release() noexcept;

 private:
  std::unique_ptr<detail::ResponseState> s_;
};

/// An HTTP/1.1 client (see the file comment). Not copyable or movable; any thread.
class Client {
 public:
  /// Throws std::invalid_argument for a zero limit or a negative timeout.
  explicit Client(ClientOptions options = {});
  /// Closes idle connections; responses still alive keep theirs until they end.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends `method` to `url` and returns once the response's head has arrived (following
  /// redirects). Throws std::invalid_argument for a bad URL, ClientConnectionError,
  /// ClientError, TooManyRedirects, weft::TimeoutError (connect or total timeout, naming the
  /// URL), CancelledError. A cancellation point; copies its arguments before it suspends.
  /// (Overloads rather than default arguments: a default argument would be a temporary in
  /// the caller's co_await expression, which GCC 12 may destroy twice.)
  Task<ClientResponse> request(Method method, std::string_view url, RequestOptions options);
  Task<ClientResponse> request(Method method, std::string_view url);
  /// request(GET, url).
  Task<ClientResponse> get(std::string_view url, RequestOptions options);
  Task<ClientResponse> get(std::string_view url);
  /// request(POST, url) with `body`.
  Task<ClientResponse> post(std::string_view url, RequestBody body, RequestOptions options);
  Task<ClientResponse> post(std::string_view url, RequestBody body);

  /// Closes the idle connections of every host now.
  void close_idle() noexcept;
  /// Connections made since the client was created (for tests and statistics).
  std::uint64_t connections_made() const noexcept;
  const ClientOptions& options() const noexcept;

 private:
  Task<ClientResponse> start(Method method, std::string_view url, RequestOptions options);
  std::shared_ptr<detail::ClientState> state_;
};

}  // namespace weft::http
