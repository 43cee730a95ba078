// weft::http::Server (server.hpp): net::start_server listeners (one, or one per worker with
// SO_REUSEPORT) whose connection handler runs a detail::Connection over the accepted stream.
//
// The connection reads and writes the stream itself (BufferedStream::stream()), unbuffered:
// it keeps its own buffer, which it parses in place, so BufferedStream's reader and writer
// are never used (and never allocate).
#include "weft/io/http/server.hpp"

#include <stdexcept>
#include <utility>

#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/runtime.hpp>
#include <weft/runtime/task_group.hpp>

#include "connection.hpp"
#include "server_core.hpp"

namespace weft::http {

namespace {

Task<void> serve_stream(detail::ServerCore* core, net::BufferedStream s) {
  net::AnyStream& stream = s.stream();
  net::SocketAddress peer;
  try {
    peer = stream.peer_address();
  } catch (const std::system_error&) {
    co_return;  // already gone
  }
  detail::Connection conn(*core, stream, std::move(peer));
  co_await conn.run();
}

void check_options(const ServerOptions& o) {
  auto positive = [](std::size_t v, const char* name) {
    if (v == 0)
      throw std::invalid_argument(std::string("http::Server: ") + name + " must be positive");
  };
  positive(o.max_head, "max_head");
  positive(o.max_request_line, "max_request_line");
  positive(o.max_headers, "max_headers");
  positive(o.read_buffer, "read_buffer");
}

net::ServerOptions net_options(const std::shared_ptr<detail::ServerCore>& core,
                               std::size_t listeners, std::size_t index = 0) {
  const ServerOptions& o = core->options;
  net::ServerOptions n;
  n.listen.reuse_port = o.reuse_port;
  // One listener per worker, each served by its own worker's reactor.
  if (o.reuse_port && listeners > 1) n.listen.worker = index;
  if (o.max_connections > 0) n.max_connections = (o.max_connections + listeners - 1) / listeners;
  n.wrap = o.wrap;
  n.on_error = o.on_connection_error;
  return n;
}

/// The listeners' handler. It holds the core by a plain pointer: the core owns the
/// listeners (a shared_ptr would make a cycle), and a connection only runs while
/// serve_forever does, whose frame keeps the core alive.
net::ConnectionHandler handler_of(const std::shared_ptr<detail::ServerCore>& core) {
  return [c = core.get()](net::BufferedStream s) { return serve_stream(c, std::move(s)); };
}

std::size_t listener_count(const ServerOptions& o) {
  if (!o.reuse_port) return 1;
  if (!in_runtime()) return 1;
  return std::max<std::size_t>(current_runtime().workers(), 1);
}

}  // namespace

Server::Server(Router router, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>()) {
  check_options(options);
  core_->router = std::move(router);
  core_->limits.max_head = options.max_head;
  core_->limits.max_start_line = options.max_request_line;
  core_->limits.max_headers = options.max_headers;
  core_->options = std::move(options);
}

Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;
Server::~Server() = default;

Task<void> Server::listen(std::string_view host, std::uint16_t port) {
  auto core = core_;
  if (!core->listeners.empty()) throw UsageError("http::Server::listen: already listening");
  const std::size_t n = listener_count(core->options);
  net::Server first =
      co_await net::start_server(handler_of(core), host, port, net_options(core, n));
  // The others bind the port the first one got (port 0 picks one).
  const std::uint16_t bound = first.local_address().port();
  core->listeners.push_back(std::move(first));
  for (std::size_t i = 1; i < n; ++i) {
    core->listeners.push_back(
        co_await net::start_server(handler_of(core), host, bound, net_options(core, n, i)));
  }
}

void Server::listen_unix(std::string_view path) {
  if (!core_->listeners.empty()) throw UsageError("http::Server::listen_unix: already listening");
  core_->listeners.push_back(
      net::start_unix_server(handler_of(core_), path, net_options(core_, 1)));
}

Task<void> Server::serve_forever() {
  auto core = core_;
  if (core->listeners.empty()) throw UsageError("http::Server::serve_forever: not listening");
  if (core->serving) throw UsageError("http::Server::serve_forever: already serving");
  core->serving = true;
  if (core->listeners.size() == 1) {
    co_await core->listeners.front().serve_forever();
    co_return;
  }
  // One accept loop per listener; the body captures a plain pointer (the frame's `core`
  // keeps the state alive).
  detail::ServerCore* c = core.get();
  co_await task_group([c](TaskGroup& tg) -> Task<void> {
    for (net::Server& s : c->listeners) tg.spawn(s.serve_forever(), "weft::http accept loop");
    co_return;
  });
}

void Server::close() noexcept {
  for (net::Server& s : core_->listeners) s.close();
}

Task<std::size_t> Server::shutdown(std::chrono::milliseconds grace) {
  auto core = core_;
  for (net::Server& s : core->listeners) s.close();
  core->draining.cancel();  // idle connections end now, busy ones after their response
  const TimePoint deadline = weft::detail::deadline_after(grace);
  std::size_t cancelled = 0;
  for (net::Server& s : core->listeners) {
    const TimePoint t = weft::now();
    const auto left = t < deadline
                          ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - t)
                          : std::chrono::milliseconds(0);
    cancelled += co_await s.shutdown(left);
  }
  co_return cancelled;
}

net::SocketAddress Server::local_address() const {
  if (core_->listeners.empty()) throw UsageError("http::Server::local_address: not listening");
  return core_->listeners.front().local_address();
}

std::size_t Server::connections() const noexcept {
  std::size_t n = 0;
  for (const net::Server& s : core_->listeners) n += s.connections();
  return n;
}

}  // namespace weft::http
