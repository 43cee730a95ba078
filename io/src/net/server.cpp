// weft::net::Server, start_server and open_connection (server.hpp).
//
// ## The protocol
// A ServerState is shared by the Server object, the serve_forever() task, the accept loop
// and every connection task, so any of them may outlive the others. serve_forever() runs a
// task_group: its body spawns the accept loop as a child and returns, so the group waits
// for the accept loop and for every connection, which the accept loop spawns into the same
// group. `mu` guards the few fields that close() and cancel_connections() touch from other
// tasks: `group` (set while the group is open), the accept loop's handle, `closing`.
//
// close() cancels the accept loop; the loop, on its way out, closes the listener (so the
// listener is never closed under a pending accept). cancel_connections() cancels the group's
// children. A connection's exception is caught in its task and reported, so it never
// cancels its siblings (task_group would); so is the wrap step's, which runs in the
// connection's task (never in the accept loop, which a slow handshake would stall). `live`
// counts connection tasks; the last one to finish after close() sets `drained`. Both sides
// use seq_cst (close: store closing, then read live; a connection: decrement live, then read
// closing), so one of them always sees the other's write and `drained` cannot be missed.
#include "weft/io/net/server.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/runtime/cancel.hpp>
#include <weft/runtime/errors.hpp>
#include <weft/runtime/join_handle.hpp>
#include <weft/runtime/task_group.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/semaphore.hpp>

#include "weft/io/net/resolve.hpp"

namespace weft::net {

namespace detail {

struct ServerState : std::enable_shared_from_this<ServerState> {
  ConnectionHandler handler;
  ServerOptions options;
  TcpListener tcp;             // the listener, unless `unix` is set
  UnixListener unix_listener;  // for start_unix_server
  bool is_unix = false;
  SocketAddress address;
  std::optional<Semaphore> slots;  // max_connections

  std::mutex mu;
  TaskGroup* group = nullptr;    // guarded by mu; set while serve_forever's group is open
  JoinHandle<void> accept_loop;  // guarded by mu
  bool started = false;          // guarded by mu
  std::atomic<bool> closing{false};
  std::atomic<std::size_t> live{0};
  std::atomic<std::size_t> accepted{0};
  Event drained;   // set once closing and live == 0
  Event finished;  // set when serve_forever has returned (or close() before it started)

  void close_listener() noexcept {
    if (is_unix) {
      unix_listener.close();
    } else {
      tcp.close();
    }
  }
  Task<std::pair<TcpStream, SocketAddress>> accept() {
    if (!is_unix) co_return co_await tcp.accept();
    auto [s, peer] = co_await unix_listener.accept();
    co_return std::pair<TcpStream, SocketAddress>(std::move(s.stream()), peer);
  }
  void connection_ended() noexcept {
    if (slots) slots->release();
    if (live.fetch_sub(1) == 1 && closing.load()) drained.set();
  }
  void report(const SocketAddress& peer, std::exception_ptr e) noexcept {
    if (options.on_error) {
      try {
        options.on_error(peer, e);
      } catch (...) {  // a reporting error must not take the server down
      }
      return;
    }
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    std::fprintf(stderr, "weft::net::Server: connection from %s failed: %s\n",
                 peer.to_string().c_str(), what.c_str());
  }
};

namespace {

/// One accepted connection's share of the server: counted in `live` (and holding a
/// connection slot) from accept until its task's frame is destroyed, whether the task ran
/// or was cancelled before it started.
class ConnectionTicket {
 public:
  explicit ConnectionTicket(std::shared_ptr<ServerState> st) noexcept : st_(std::move(st)) {}
  ConnectionTicket(ConnectionTicket&& o) noexcept = default;
  ConnectionTicket& operator=(ConnectionTicket&&) = delete;
  ~ConnectionTicket() {
    if (st_) st_->connection_ended();
  }
  ServerState& state() const noexcept { return *st_; }

 private:
  std::shared_ptr<ServerState> st_;
};

/// The stream a handler reads from an accepted connection: the wrap step's, or the socket
/// as the kind of stream it is (UnixStream on a Unix server, so target<UnixStream>() works
/// and tcp() does not offer TCP's options).
Task<AnyStream> open_stream(ServerState& st, TcpStream stream) {
  if (st.options.wrap) {
    AnyStream wrapped = co_await st.options.wrap(std::move(stream));
    if (!wrapped) throw UsageError("weft::net::Server: ServerOptions::wrap gave an empty stream");
    co_return wrapped;
  }
  if (st.is_unix) co_return UnixStream(std::move(stream.socket()));
  co_return std::move(stream);
}

Task<void> serve_connection(ConnectionTicket ticket, TcpStream stream, SocketAddress peer) {
  ServerState& st = ticket.state();
  try {
    AnyStream s = co_await open_stream(st, std::move(stream));
    co_await st.handler(BufferedStream(std::move(s), st.options.stream));
  } catch (const CancelledError&) {  // cancel_connections() or the server's cancellation
  } catch (...) {
    st.report(peer, std::current_exception());
  }
}

Task<void> accept_loop(std::shared_ptr<ServerState> st, TaskGroup& tg) {
  try {
    for (;;) {
      if (st->slots) (co_await st->slots->acquire()).disarm();  // released at connection end
      std::pair<TcpStream, SocketAddress> conn;
      try {
        conn = co_await st->accept();
      } catch (...) {
        if (st->slots) st->slots->release();
        throw;
      }
      st->live.fetch_add(1);
      st->accepted.fetch_add(1, std::memory_order_relaxed);
      // If the spawn throws (RuntimeClosed), the ticket's destructor gives the slot back.
      tg.spawn(serve_connection(ConnectionTicket(st), std::move(conn.first), conn.second));
    }
  } catch (const CancelledError&) {  // close(), or the server's cancellation
  }
  st->close_listener();
}

std::shared_ptr<ServerState> make_state(ConnectionHandler handler, ServerOptions options) {
  if (!handler) throw std::invalid_argument("weft::net::start_server: empty handler");
  auto st = std::make_shared<ServerState>();
  st->handler = std::move(handler);
  if (options.max_connections > 0) {
    st->slots.emplace(static_cast<std::ptrdiff_t>(options.max_connections));
  }
  st->options = std::move(options);
  return st;
}

}  // namespace
}  // namespace detail

Server::Server(std::shared_ptr<detail::ServerState> state) noexcept : state_(std::move(state)) {}

Server::~Server() = default;

namespace detail {
namespace {

/// serve_forever's claim on the state: when its frame goes (the serving ended, or the Task
/// was dropped without running), the listener is closed and wait_closed() returns.
class ServingTicket {
 public:
  explicit ServingTicket(std::shared_ptr<ServerState> st) noexcept : st_(std::move(st)) {}
  ServingTicket(ServingTicket&& o) noexcept = default;
  ServingTicket& operator=(ServingTicket&&) = delete;
  ~ServingTicket() {
    if (!st_) return;
    {
      std::lock_guard lk(st_->mu);
      st_->group = nullptr;
      st_->accept_loop = {};
    }
    st_->close_listener();  // if the accept loop never ran
    st_->finished.set();
  }
  ServerState* get() const noexcept { return st_.get(); }

 private:
  std::shared_ptr<ServerState> st_;
};

Task<void> serve(ServingTicket ticket) {
  // The body captures a plain pointer (the ticket keeps the state alive in this frame): a
  // capturing closure with a shared_ptr would be destroyed twice by GCC 12.
  co_await task_group([s = ticket.get()](TaskGroup& tg) -> Task<void> {
    std::lock_guard lk(s->mu);
    s->group = &tg;
    s->accept_loop = tg.spawn(accept_loop(s->shared_from_this(), tg), "weft::net accept loop");
    if (s->closing.load()) s->accept_loop.cancel();  // close() came in between
    co_return;
  });
}

}  // namespace
}  // namespace detail

Task<void> Server::serve_forever() {
  if (!state_) throw UsageError("weft::net::Server::serve_forever: an empty Server");
  std::lock_guard lk(state_->mu);
  if (state_->started) throw UsageError("weft::net::Server::serve_forever: already serving");
  if (state_->closing.load()) throw UsageError("weft::net::Server::serve_forever: closed");
  state_->started = true;
  return detail::serve(detail::ServingTicket(state_));
}

void Server::close() noexcept {
  auto& st = state_;
  if (!st) return;
  std::lock_guard lk(st->mu);
  if (st->closing.exchange(true)) return;
  if (st->live.load() == 0) st->drained.set();
  if (st->accept_loop) st->accept_loop.cancel();
  if (!st->started) {
    st->close_listener();
    st->finished.set();
  }
}

void Server::cancel_connections() noexcept {
  if (!state_) return;
  std::lock_guard lk(state_->mu);
  if (state_->group) state_->group->cancel();
}

Task<void> Server::wait_closed() {
  auto st = state_;
  if (!st) co_return;
  co_await st->finished.wait();
}

Task<std::size_t> Server::shutdown(std::chrono::milliseconds grace) {
  auto st = state_;
  if (!st) co_return 0;
  close();
  std::size_t cancelled = 0;
  try {
    co_await wait_for(st->drained.wait(), grace);
  } catch (const TimeoutError&) {
    cancelled = st->live.load();
    cancel_connections();
  }
  co_await st->finished.wait();
  co_return cancelled;
}

SocketAddress Server::local_address() const {
  if (!state_) throw UsageError("weft::net::Server::local_address: an empty Server");
  return state_->address;
}

std::size_t Server::connections() const noexcept {
  return state_ ? state_->live.load(std::memory_order_relaxed) : 0;
}

std::size_t Server::accepted() const noexcept {
  return state_ ? state_->accepted.load(std::memory_order_relaxed) : 0;
}

Task<Server> start_server(ConnectionHandler handler, std::string_view host, std::uint16_t port,
                          ServerOptions options) {
  auto st = detail::make_state(std::move(handler), std::move(options));
  const std::vector<SocketAddress> addrs = co_await resolve(host, port);
  st->tcp = TcpListener::bind(addrs.front(), st->options.listen);
  st->address = st->tcp.local_address();
  co_return Server(std::move(st));
}

Server start_unix_server(ConnectionHandler handler, std::string_view path, ServerOptions options,
                         UnixListenOptions unix_options) {
  auto st = detail::make_state(std::move(handler), std::move(options));
  st->unix_listener = UnixListener::bind(path, unix_options);
  st->is_unix = true;
  st->address = st->unix_listener.local_address();
  return Server(std::move(st));
}

Task<BufferedStream> open_connection(std::string_view host, std::uint16_t port,
                                     StreamOptions options) {
  co_return BufferedStream(co_await connect_host(host, port), options);
}

Task<BufferedStream> open_unix_connection(std::string_view path, StreamOptions options) {
  co_return BufferedStream(co_await UnixStream::connect(path), options);
}

}  // namespace weft::net
