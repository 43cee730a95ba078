// weft::net::open_connection, start_server and Server: asyncio's stream conveniences.
//
//   auto server = weft::net::start_server(handle, "127.0.0.1", 8080);
//   auto serving = weft::spawn(server.serve_forever());
//   co_await weft::signal::wait(SIGTERM);
//   co_await server.shutdown(5s);  // stop accepting; connections get 5 s, then are cancelled
//   co_await serving;
//
// Every connection runs `handler(BufferedStream)` in a task of its own, after the optional
// wrap step (ServerOptions::wrap: a TLS handshake, say) has made the accepted socket into
// the stream the handler reads. serve_forever() is structured (DESIGN invariant 7): it
// returns only once the accept loop and every connection task have finished, and
// cancelling it cancels them all and waits for them. A handler's exception ends its
// connection only: it goes to ServerOptions::on_error (by default printed to stderr with
// the peer's address), as asyncio logs it; the server goes on.
//
// Shutdown, in the usual order: close() stops accepting (the accept loop ends and the
// listening socket is closed, so new connections are refused) and lets the connections run;
// wait_closed() waits until serve_forever() has returned; cancel_connections() cancels
// every live connection. shutdown(grace) does all three with a deadline between them.
// Every method may be called from any task, on any worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/any_stream.hpp"
#include "weft/io/net/stream.hpp"
#include "weft/io/net/tcp.hpp"
#include "weft/io/net/unix.hpp"

namespace weft::net {

/// Serves one connection; its task ends the connection when it returns.
using ConnectionHandler = std::function<Task<void>(BufferedStream)>;
/// Told of a handler's (or a wrap step's) exception, with the connection's peer address.
using ConnectionErrorHandler = std::function<void(const SocketAddress&, std::exception_ptr)>;
/// Turns an accepted connection into the stream its handler reads (ServerOptions::wrap).
using ConnectionWrapper = std::function<Task<AnyStream>(TcpStream)>;

/// Options of start_server.
struct ServerOptions {
  ListenOptions listen{};
  StreamOptions stream{};
  /// Connections served at once; further ones wait in the listen backlog. 0: no limit.
  std::size_t max_connections = 0;
  /// Default: print "weft::net::Server: connection from PEER failed: WHAT" to stderr.
  ConnectionErrorHandler on_error{};
  /// The wrap step: turns each accepted connection into the stream that the handler's
  /// BufferedStream reads, e.g. a TLS server handshake (weft::tls gives start_server HTTPS
  /// this way). It runs in the connection's own task before the handler, so a slow peer
  /// never holds up the accept loop, and it holds a max_connections slot while it runs (put
  /// a deadline in it with wait_for). What it throws ends that connection only and goes to
  /// on_error like a handler's exception, and the connection counts as finished; an empty
  /// AnyStream returned is reported as a UsageError. It is called from many connections'
  /// tasks at once, on any worker. On start_unix_server the TcpStream holds the Unix
  /// socket. Empty: the handler reads the accepted TcpStream (UnixStream) itself.
  ConnectionWrapper wrap{};
};

namespace detail {
struct ServerState;
}

/// A listening server (asyncio.Server). Move-only; destroying it does not stop a running
/// serve_forever() (close() does).
class Server {
 public:
  Server() noexcept = default;
  Server(Server&&) noexcept = default;
  Server& operator=(Server&&) noexcept = default;
  ~Server();

  /// Accepts connections and serves each in its own task, until close(); then waits for
  /// the connections to finish. Cancelled, it cancels the connections and waits for them.
  /// Throws UsageError (at the call, not at the await) if called twice, or after close().
  Task<void> serve_forever();
  /// Stops accepting: the listening socket closes; live connections go on. Idempotent.
  void close() noexcept;
  /// Cancels every live connection task (after close(), to end them early). Idempotent.
  void cancel_connections() noexcept;
  /// Returns once serve_forever() has returned (at once if it never started and close()
  /// was called).
  Task<void> wait_closed();
  /// close(); wait up to `grace` for the connections to finish; cancel the rest; wait for
  /// them. Returns how many connections had to be cancelled.
  Task<std::size_t> shutdown(std::chrono::milliseconds grace);

  /// The address it listens on (with the port chosen for port 0).
  SocketAddress local_address() const;
  /// Connections being served now.
  std::size_t connections() const noexcept;
  /// Connections accepted since it started.
  std::size_t accepted() const noexcept;

 private:
  friend Task<Server> start_server(ConnectionHandler handler, std::string_view host,
                                   std::uint16_t port, ServerOptions options);
  friend Server start_unix_server(ConnectionHandler handler, std::string_view path,
                                  ServerOptions options, UnixListenOptions unix_options);
  explicit Server(std::shared_ptr<detail::ServerState> state) noexcept;

  std::shared_ptr<detail::ServerState> state_;
};

/// Listens on `host`:`port` (a numeric address or a name resolved like resolve(); port 0
/// picks a free port) and returns the server, not yet serving: call serve_forever().
/// Throws ResolveError, std::system_error "bind ADDR: reason", std::invalid_argument for an
/// empty handler.
Task<Server> start_server(ConnectionHandler handler, std::string_view host, std::uint16_t port,
                          ServerOptions options = {});
/// The same on a Unix-domain socket at `path` ('@' for abstract).
Server start_unix_server(ConnectionHandler handler, std::string_view path,
                         ServerOptions options = {}, UnixListenOptions unix_options = {});

/// Connects to `host`:`port` (asyncio.open_connection) and wraps the connection in a
/// BufferedStream. Throws ResolveError, or std::system_error "connect ADDR: reason".
/// There is no client-side wrap step: a client of another kind of stream (TLS, which needs
/// the host name for SNI and verification) connects it and builds
/// `BufferedStream(std::move(stream), options)` itself.
Task<BufferedStream> open_connection(std::string_view host, std::uint16_t port,
                                     StreamOptions options = {});
/// The same for a Unix-domain socket at `path`.
Task<BufferedStream> open_unix_connection(std::string_view path, StreamOptions options = {});

}  // namespace weft::net
