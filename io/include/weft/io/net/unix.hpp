// weft::net::UnixStream and UnixListener: stream sockets on Unix-domain paths (asyncio's
// open_unix_connection / start_unix_server underneath).
//
// A path is a file system path ("/run/app.sock") or, with a leading '@', a name in Linux's
// abstract namespace ("@app"), which needs no file and vanishes with its last socket.
//
// UnixStream is a thin wrapper over TcpStream, whose reading and writing work unchanged on
// an AF_UNIX socket: the wrapper gives the Unix constructors and peer credentials, and leaves
// out TCP's options (Nagle, keep-alive). Code written for TcpStream takes `stream()`.
//
// UnixListener owns the socket file it creates: bind refuses a path that exists (EADDRINUSE
// naming it) unless asked to remove a stale socket file there, and close() removes the file
// again if it is still the one bind created.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/socket.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::net {

/// The process on the other end of a Unix socket, as the kernel saw it at connect time.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// A connected Unix-domain stream socket; a ByteStream (byte_stream.hpp). Move-only; closes
/// on destruction. One task may read while another writes.
class UnixStream {
 public:
  UnixStream() noexcept = default;
  explicit UnixStream(Socket s) noexcept : stream_(std::move(s)) {}

  /// Connects to the socket at `path` ('@' for abstract). Throws std::invalid_argument for a
  /// bad path, std::system_error "connect unix:PATH: reason" (ENOENT, ECONNREFUSED...).
  static Task<UnixStream> connect(std::string_view path);
  /// Connects to an AF_UNIX `to`. Throws as above.
  static Task<UnixStream> connect(SocketAddress to);
  /// Connects, giving up with weft::TimeoutError after `timeout`.
  static Task<UnixStream> connect(SocketAddress to, std::chrono::milliseconds timeout);
  /// Two streams connected to each other (socketpair(2)). Throws std::system_error.
  static std::pair<UnixStream, UnixStream> pair();

  /// Reads at least one byte into `buf`; 0 at end of stream (or if `buf` is empty).
  Task<std::size_t> read(std::span<std::byte> buf) { return stream_.read(buf); }
  /// Fills `buf`, or throws IncompleteRead if the stream ends first.
  Task<void> read_exact(std::span<std::byte> buf) { return stream_.read_exact(buf); }
  /// Writes some of `buf` (at least one byte); the count.
  Task<std::size_t> write(std::span<const std::byte> buf) { return stream_.write(buf); }
  /// Writes all of `buf`.
  Task<void> write_all(std::span<const std::byte> buf) { return stream_.write_all(buf); }
  Task<void> write_all(std::string_view s) { return stream_.write_all(s); }
  /// Writes every byte of the buffers (consumes `iov`).
  Task<void> writev(std::span<iovec> iov) { return stream_.writev(iov); }
  /// Reads what is there without waiting: the count (0 at end of stream), or nullopt.
  std::optional<std::size_t> try_read(std::span<std::byte> buf) { return stream_.try_read(buf); }
  /// Writes what fits without waiting: the count, or nullopt if nothing fits.
  std::optional<std::size_t> try_write(std::span<const std::byte> buf) {
    return stream_.try_write(buf);
  }
  /// Waits until a try_read may find something (at once unless the last one found nothing).
  Socket::ReadyAwaiter readable() { return stream_.readable(); }
  /// Waits until a try_write may fit something (at once unless the last one could not).
  Socket::ReadyAwaiter writable() { return stream_.writable(); }
  /// Half-closes (kWrite: the peer reads end of stream). Throws std::system_error.
  void shutdown(Shutdown how = Shutdown::kWrite) { stream_.shutdown(how); }
  /// shutdown(kWrite) as a ByteStream ends its writing. Throws std::system_error.
  Task<void> finish_writing() { return stream_.finish_writing(); }

  /// The peer's pid, uid and gid (SO_PEERCRED). Throws std::system_error.
  PeerCredentials peer_credentials();

  SocketAddress local_address() const { return stream_.local_address(); }
  /// The peer's address: "unix:" (empty path) for a client that did not bind one.
  SocketAddress peer_address() const { return stream_.peer_address(); }
  void close() noexcept { stream_.close(); }
  bool is_open() const noexcept { return stream_.is_open(); }
  Socket& socket() noexcept { return stream_.socket(); }
  /// The underlying TcpStream, for code written against it (moving it out is allowed).
  TcpStream& stream() noexcept { return stream_; }

 private:
  TcpStream stream_;
};

/// Options of UnixListener::bind.
struct UnixListenOptions {
  int backlog = 1024;
  /// If a socket file that nobody listens on (a connect to it is refused) is at the path,
  /// remove it first. A live socket or any other kind of file still fails with EADDRINUSE.
  bool unlink_stale = false;
  /// Remove the socket file when the listener is closed (if it is still the one bind made).
  bool unlink_on_close = true;
};

/// A listening Unix-domain stream socket. Move-only; closes on destruction.
class UnixListener {
 public:
  UnixListener() noexcept = default;
  UnixListener(UnixListener&& o) noexcept;
  UnixListener& operator=(UnixListener&& o) noexcept;
  /// Closes (see close()).
  ~UnixListener() { close(); }
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  /// Binds `path` ('@' for abstract) and listens. Throws std::invalid_argument for a bad
  /// path or backlog, std::system_error "bind unix:PATH: reason" (EADDRINUSE if the path
  /// exists and is not a stale socket removed by `unlink_stale`). Any thread.
  static UnixListener bind(std::string_view path, UnixListenOptions options = {});
  /// Binds an AF_UNIX `addr`, as above.
  static UnixListener bind(const SocketAddress& addr, UnixListenOptions options = {});

  /// Accepts a connection and its peer's address. Out of file descriptors, keeps waiting
  /// with a back-off like TcpListener::accept.
  Task<std::pair<UnixStream, SocketAddress>> accept();

  SocketAddress local_address() const { return listener_.local_address(); }
  /// The path it was bound to ("@name" when abstract); empty once closed.
  const std::string& path() const noexcept { return path_; }
  /// Closes the socket and removes its file if bind created it, unlink_on_close is set, and
  /// the path still names that file. Idempotent. Must not race accept().
  void close() noexcept;
  bool is_open() const noexcept { return listener_.is_open(); }
  Socket& socket() noexcept { return listener_.socket(); }

 private:
  TcpListener listener_;
  std::string path_;
  bool owns_file_ = false;  // remove the file at path_ on close, if it is (dev_, ino_)
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace weft::net
