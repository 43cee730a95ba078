// weft::net::TcpStream and TcpListener (asyncio's open_connection/start_server underneath).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/socket.hpp"

namespace weft::net {

/// The stream ended before read_exact got its bytes (asyncio.IncompleteReadError).
class IncompleteRead : public std::runtime_error {
 public:
  IncompleteRead(std::size_t got, std::size_t expected, const std::string& where);
  std::size_t got() const noexcept { return got_; }
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::size_t got_, expected_;
};

/// Which direction(s) shutdown() closes.
enum class Shutdown { kRead = SHUT_RD, kWrite = SHUT_WR, kBoth = SHUT_RDWR };

/// A connected TCP (or Unix stream) socket; a ByteStream (byte_stream.hpp). Move-only;
/// closes on destruction. One task may read while another writes.
class TcpStream {
 public:
  TcpStream() noexcept = default;
  explicit TcpStream(Socket s) noexcept : sock_(std::move(s)) {}

  /// Connects to `to`. Throws std::system_error "connect ADDR: reason".
  static Task<TcpStream> connect(SocketAddress to);
  /// Connects to `to`, giving up with weft::TimeoutError after `timeout`.
  static Task<TcpStream> connect(SocketAddress to, std::chrono::milliseconds timeout);

  /// Reads at least one byte into `buf`; 0 at end of stream (or if `buf` is empty).
  Task<std::size_t> read(std::span<std::byte> buf) { return sock_.recv(buf); }
  /// Fills `buf`, or throws IncompleteRead if the stream ends first.
  Task<void> read_exact(std::span<std::byte> buf);
  /// Writes some of `buf` (at least one byte); the count.
  Task<std::size_t> write(std::span<const std::byte> buf) { return sock_.send(buf); }
  /// Writes all of `buf`.
  Task<void> write_all(std::span<const std::byte> buf) { return sock_.send_all(buf); }
  Task<void> write_all(std::string_view s) { return sock_.send_all(std::as_bytes(std::span(s))); }
  /// Writes every byte of the buffers (consumes `iov`).
  Task<void> writev(std::span<iovec> iov) { return sock_.sendv_all(iov); }
  /// Reads what is there without waiting: the count (0 at end of stream), or nullopt.
  std::optional<std::size_t> try_read(std::span<std::byte> buf) { return sock_.try_recv(buf); }
  /// Writes what fits without waiting: the count, or nullopt if nothing fits.
  std::optional<std::size_t> try_write(std::span<const std::byte> buf) {
    return sock_.try_send(buf);
  }
  /// Waits until a try_read may find something (at once unless the last one found nothing).
  Socket::ReadyAwaiter readable() { return sock_.readable(); }
  /// Waits until a try_write may fit something (at once unless the last one could not).
  Socket::ReadyAwaiter writable() { return sock_.writable(); }

  /// Half-closes (kWrite: the peer reads end of stream). Throws std::system_error.
  void shutdown(Shutdown how = Shutdown::kWrite);
  /// shutdown(kWrite) as a ByteStream ends its writing: the peer reads the end of the
  /// stream, this side may still read. Throws std::system_error (at the await).
  Task<void> finish_writing();
  void set_nodelay(bool on);
  /// SO_KEEPALIVE, with the idle time before the first probe if given.
  void set_keepalive(bool on, std::chrono::seconds idle = std::chrono::seconds(0));

  SocketAddress local_address() const { return sock_.local_address(); }
  SocketAddress peer_address() const { return sock_.peer_address(); }
  void close() noexcept { sock_.close(); }
  bool is_open() const noexcept { return sock_.is_open(); }
  Socket& socket() noexcept { return sock_; }

 private:
  Socket sock_;
};

/// Options of TcpListener::bind.
struct ListenOptions {
  int backlog = 1024;
  bool reuse_address = true;  ///< SO_REUSEADDR (restart without waiting for TIME_WAIT)
  /// SO_REUSEPORT: one listener per worker on one port, the kernel spreading connections
  /// over them. A stream such a listener accepts joins the accepting worker's epoll at once
  /// (not at its first wait), so each connection stays with the worker the kernel gave it
  /// to even if its task first runs elsewhere. Without it, a stream joins the epoll of the
  /// worker where it first waits, and idle workers spread a single listener's connections
  /// by stealing their new tasks.
  bool reuse_port = false;
  bool v6_only = false;  ///< IPV6_V6ONLY for an IPv6 address
  /// The worker whose reactor serves the listener and the connections it accepts (modulo
  /// the runtime's workers), joined at bind, which must then run on a worker. One
  /// reuse_port listener per worker, each on its own, makes every worker accept and serve
  /// its own share of the connections (nginx's model). Unset: the worker where the
  /// first accept waits.
  std::optional<std::size_t> worker{};
};

/// A listening TCP (or Unix stream) socket.
class TcpListener {
 public:
  TcpListener() noexcept = default;
  /// Binds and listens. Throws std::system_error "bind ADDR: reason". Any thread.
  static TcpListener bind(const SocketAddress& addr, ListenOptions options = {});
  /// Accepts a connection and its peer's address. If the process is out of file
  /// descriptors (EMFILE, ENFILE) or memory, keeps waiting, backing off from 10 ms up to
  /// 1 s between tries (the pending connection stays in the backlog), and never spins.
  /// With ListenOptions::worker the stream is registered on that worker's epoll, else with
  /// ListenOptions::reuse_port on this worker's.
  Task<std::pair<TcpStream, SocketAddress>> accept();

  SocketAddress local_address() const { return sock_.local_address(); }
  void close() noexcept { sock_.close(); }
  bool is_open() const noexcept { return sock_.is_open(); }
  Socket& socket() noexcept { return sock_; }

 private:
  Socket sock_;
  bool register_accepted_ = false;     // ListenOptions::reuse_port
  std::optional<std::size_t> worker_;  // ListenOptions::worker
};

}  // namespace weft::net
