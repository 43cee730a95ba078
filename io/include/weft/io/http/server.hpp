// weft::http::Server: HTTP/1.1 over weft::net's server, one task per connection.
//
//   http::Router router;
//   router.get("/hello", [](http::Request&) -> Task<http::Response> {
//     co_return http::Response::text("Hello, World!");
//   });
//   http::Server server(std::move(router), {.header_timeout = 5s});
//   co_await server.listen("0.0.0.0", 8080);
//   auto serving = spawn(server.serve_forever());
//   co_await signal::wait(SIGTERM);
//   co_await server.shutdown(10s);  // in-flight requests get 10 s, then are cancelled
//   co_await serving;
//
// A connection reads into a buffer of its own and parses heads in place; it serves the
// requests on it one after another (keep-alive), and answers requests that arrived together
// (pipelining) in order, with their responses written together. Limits are answered with
// their status and end only the connection that broke them: 431 (head too large), 414
// (request line too long), 413 (body over max_body), 400 (malformed, then the connection
// closes), 408 (no complete head within header_timeout of its first byte — a slow client
// cannot extend it by trickling bytes), and an idle keep-alive connection is closed after
// keep_alive_timeout. Past max_connections, further clients wait in the listen backlog.
//
// A handler's exception: HttpError becomes its status; anything else becomes 500 and goes
// to on_error once; the connection goes on if the response could still be framed.
//
// HTTPS: set `wrap` to tls::server_wrap(ctx); each connection's handshake runs in its own
// task before its first request.
//
// Threads: listen, serve_forever, shutdown and close may be called from any task; the
// hooks (access_log, on_error) are called from connection tasks on any worker, at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <weft/runtime/task.hpp>

#include "weft/io/http/request.hpp"
#include "weft/io/http/response.hpp"
#include "weft/io/http/router.hpp"
#include "weft/io/net/address.hpp"
#include "weft/io/net/server.hpp"

namespace weft::http {

/// What the access-log hook is told after each response.
struct AccessLogEntry {
  std::string_view method;
  std::string_view target;
  int status = 0;
  std::uint64_t bytes = 0;              ///< body bytes sent
  std::chrono::nanoseconds duration{};  ///< from the head's arrival to the response's end
  const net::SocketAddress* peer = nullptr;
};

/// Options of a Server (designated initializers: `{.max_body = 1 << 20}`).
struct ServerOptions {
  /// Largest head (431), request line (414) and number of header fields (431).
  std::size_t max_head = 16 * 1024;
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_headers = 100;
  /// Largest body Request::text() and bytes() read (413).
  std::size_t max_body = 1024 * 1024;
  /// Largest unread body the server reads and drops to keep the connection; past it the
  /// connection closes after the response.
  std::size_t max_drain = 64 * 1024;
  /// From a head's first byte to its end (408), and for the first byte of a new
  /// connection's first request (closed silently).
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  /// An idle keep-alive connection is closed after this (silently).
  std::chrono::milliseconds keep_alive_timeout = std::chrono::seconds(60);
  /// Longest wait for a body byte (Request::text(), body()) and for a write to progress.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(60);
  std::chrono::milliseconds write_timeout = std::chrono::seconds(60);
  /// Connections served at once; further ones wait in the listen backlog. 0: no limit.
  std::size_t max_connections = 0;
  /// Requests served on one connection before it is closed. 0: no limit.
  std::size_t max_requests_per_connection = 0;
  /// One SO_REUSEPORT listener per worker, the kernel spreading connections over them;
  /// false: one listener.
  bool reuse_port = false;
  /// The Server header's value; empty: none.
  std::string server_name = "weft";
  /// The read buffer a connection starts with (it grows up to max_head for a large head,
  /// and shrinks back while the connection is idle).
  std::size_t read_buffer = 1024;
  /// Called after each response. Empty: no access log.
  std::function<void(const AccessLogEntry&)> access_log{};
  /// Told of each exception a handler threw other than HttpError (answered 500). Empty:
  /// printed to stderr with the request's method and target.
  std::function<void(const Request&, std::exception_ptr)> on_error{};
  /// The wrap step (tls::server_wrap for HTTPS), as net::ServerOptions::wrap.
  net::ConnectionWrapper wrap{};
  /// Told of a connection that failed before its first request (a TLS handshake).
  net::ConnectionErrorHandler on_connection_error{};
};

namespace detail {
struct ServerCore;
}

/// An HTTP/1.1 server. Move-only.
class Server {
 public:
  /// A server of `router`'s routes. Throws std::invalid_argument for a zero limit.
  explicit Server(Router router, ServerOptions options = {});
  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  ~Server();

  /// Listens on `host`:`port` (port 0: a free one; local_address() tells which). Throws
  /// ResolveError, std::system_error "bind ADDR: reason", UsageError if already listening.
  Task<void> listen(std::string_view host, std::uint16_t port);
  /// Listens on the Unix-domain socket `path`. Throws as listen does.
  void listen_unix(std::string_view path);
  /// Serves until shutdown() or close(); returns once every connection has ended. Throws
  /// UsageError if not listening or called twice.
  Task<void> serve_forever();
  /// Stops accepting, closes idle keep-alive connections at once, lets requests in flight
  /// finish for up to `grace` (each connection closes after its current response), then
  /// cancels the rest. Returns how many connections had to be cancelled.
  Task<std::size_t> shutdown(std::chrono::milliseconds grace);
  /// Stops accepting; live connections go on. Idempotent.
  void close() noexcept;

  /// The address it listens on.
  net::SocketAddress local_address() const;
  /// Connections being served now.
  std::size_t connections() const noexcept;

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace weft::http
