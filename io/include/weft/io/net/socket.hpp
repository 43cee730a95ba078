// weft::net::Socket: a non-blocking socket fd with its reactor registration; the common
// base of TcpStream, TcpListener, UdpSocket and the Unix sockets.
//
// Every operation tries the syscall first and waits for readiness only on EAGAIN
// (weft/runtime/io.hpp) — or, on a TCP connection that TcpStream::connect or
// TcpListener::accept made, after a read that returned fewer bytes than asked, which emptied
// the receive queue (set_tcp); one that completes at once spends a unit of the task's
// cooperative budget (weft/runtime/budget.hpp). Errors are std::system_error naming the
// operation and the address, e.g. "connect 127.0.0.1:9: Connection refused". Reading and
// writing may go on in two tasks at once; two tasks reading (or writing) one socket at once
// get their bytes in no defined order.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <system_error>

#include <weft/runtime/budget.hpp>
#include <weft/runtime/io.hpp>
#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"

namespace weft::net {

/// Owns a non-blocking socket fd. Move-only; closes on destruction.
class Socket {
 public:
  Socket() noexcept = default;
  /// Adopts `fd` (made non-blocking and close-on-exec here).
  explicit Socket(int fd);
  /// A new socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol).
  static Socket open(int family, int type, int protocol = 0);
  Socket(Socket&& o) noexcept;
  Socket& operator=(Socket&& o) noexcept;
  ~Socket() { close(); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  /// Closes the fd (deregistering it first). Idempotent. Must not race an operation.
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  /// Gives up the fd without closing it.
  int release() noexcept;

  SocketAddress local_address() const;
  SocketAddress peer_address() const;

  /// setsockopt, throwing std::system_error naming `what`.
  void set_option(int level, int name, int value, const char* what);
  int get_option(int level, int name, const char* what) const;

  /// recv(2): at least one byte, or 0 at end of stream. Waits while nothing is there.
  Task<std::size_t> recv(std::span<std::byte> buf, int flags = 0);
  /// send(2) with MSG_NOSIGNAL: at least one byte. Waits while the buffer is full.
  Task<std::size_t> send(std::span<const std::byte> buf, int flags = 0);
  /// Sends all of `buf`.
  Task<void> send_all(std::span<const std::byte> buf);

  /// recv(2) without waiting: the count (0 at end of stream), or nullopt if nothing is there
  /// yet. With readable(), a task can read into a buffer that is not its own to keep while it
  /// waits (one per worker, say) — Tokio's try_read. Throws std::system_error as recv does.
  std::optional<std::size_t> try_recv(std::span<std::byte> buf, int flags = 0);
  /// send(2) with MSG_NOSIGNAL, without waiting: the count, or nullopt if the socket's buffer
  /// is full.
  std::optional<std::size_t> try_send(std::span<const std::byte> buf, int flags = 0);
  class ReadyAwaiter;
  /// Returns once a try_recv may find something: at once, unless the last try_recv found
  /// nothing; then when the fd has become readable since that try. A cancellation point
  /// while it waits. Allocates nothing (the awaiter is not a coroutine).
  ReadyAwaiter readable();
  /// The same for try_send and the fd becoming writable.
  ReadyAwaiter writable();
  /// writev(2) until every byte of `iov` is written. `iov` is consumed (modified).
  Task<void> sendv_all(std::span<iovec> iov);
  /// recvfrom(2) / sendto(2) for datagram sockets.
  Task<std::size_t> recv_from(std::span<std::byte> buf, SocketAddress& from);
  Task<std::size_t> send_to(std::span<const std::byte> buf, const SocketAddress& to);
  /// connect(2), waiting for it to finish. Throws std::system_error "connect ADDR: why".
  Task<void> connect(const SocketAddress& to);
  /// accept4(2): a new socket and its peer's address. Out of descriptors (EMFILE, ENFILE)
  /// or kernel memory, it keeps waiting, backing off from 10 ms up to 1 s between tries (the
  /// connection stays in the backlog), and never spins.
  Task<Socket> accept(SocketAddress* peer);

  /// The reactor registration (for operations this class lacks).
  IoRegistration& registration() noexcept { return reg_; }

  /// Counts this socket's waits from now on — for data or a connection (reads, accepts)
  /// and for room in its send buffer (writes, connect) apart; only waits that suspend: a
  /// counted one costs two clock reads (IoRegistration::track_waits). Any thread.
  void track_waits() { reg_.track_waits(); }
  /// The read (and accept) waits counted since track_waits(). Any thread; a snapshot.
  WaitStats read_wait_stats() const noexcept { return reg_.wait_stats(Interest::kRead); }
  /// The write (and connect) waits counted since track_waits(). Any thread; a snapshot.
  WaitStats write_wait_stats() const noexcept { return reg_.wait_stats(Interest::kWrite); }

  /// "what ADDR" for error messages: the peer's address if connected, else the local one.
  std::string describe(const char* what) const;

 private:
  friend class TcpStream;    // marks the sockets it connects TCP (set_tcp)
  friend class TcpListener;  // and those it accepts
  friend class UdpSocket;    // its datagram operations are until_done loops of its own

  /// Marks this a TCP socket (TcpStream::connect and TcpListener::accept do, for IPv4 and
  /// IPv6): a recv or try_recv that returns fewer bytes than asked (and more than none,
  /// without MSG_PEEK) emptied the receive queue — TCP copies until the queue is empty or
  /// the buffer full — so the next recv or readable() waits for an edge since that read
  /// instead of making the read(2) that would say EAGAIN (Tokio's rule on epoll). An edge
  /// that came in between ends that wait at once; after a hang-up or an error
  /// (IoRegistration::read_closed) reads try at once again. Not Unix stream sockets: their
  /// reads stop early at a message that carries descriptors or other credentials.
  void set_tcp() noexcept { tcp_ = true; }

  /// The fd found not ready in one direction — a try that got EAGAIN, or a stream read
  /// that emptied the receive queue — with the readiness sequence read before that
  /// syscall: the next wait (readable, writable, recv) waits for an edge since then. Per
  /// direction: one task may read while another writes. One relaxed atomic word (bit 32:
  /// blocked; low bits: the sequence), as two tasks may read one socket at once.
  class Blocked {
   public:
    void block(std::uint32_t seq) noexcept { word_.store(kSet | seq, std::memory_order_relaxed); }
    void clear() noexcept { word_.store(0, std::memory_order_relaxed); }
    /// The sequence to wait from, or nullopt if not blocked.
    std::optional<std::uint32_t> since() const noexcept {
      const std::uint64_t w = word_.load(std::memory_order_relaxed);
      if ((w & kSet) == 0) return std::nullopt;
      return static_cast<std::uint32_t>(w);
    }
    /// Takes `o`'s state, leaving it clear (moves of the socket).
    void take(Blocked& o) noexcept {
      word_.store(o.word_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    }

   private:
    static constexpr std::uint64_t kSet = std::uint64_t{1} << 32;
    std::atomic<std::uint64_t> word_{0};
  };

  // The two loops every operation is made of (defined in src/net/socket_io.hpp).
  template <class Syscall, class OnError>
  std::optional<std::size_t> try_io(Interest interest, std::size_t drained_below, Syscall call,
                                    OnError on_error);
  template <class Syscall>
  std::optional<std::size_t> try_io(Interest interest, const char* what, std::size_t drained_below,
                                    Syscall call);
  template <class Result, class Try>
  Task<Result> until_done(Interest interest, const char* what, Try try_once);
  ReadyAwaiter ready(Interest interest);

  int fd_ = -1;
  bool tcp_ = false;  // set_tcp(): a short read emptied the receive queue
  IoRegistration reg_;
  Blocked blocked_[2];  // [Interest::kRead], [Interest::kWrite]
};

/// The awaiter of Socket::readable() and writable(). Movable until it is awaited. If the
/// last try in its direction did not find the socket blocked, it completes at once, spending
/// a unit of the task's budget (and yields when the budget is spent, like consume_budget());
/// otherwise it is the registration's wait for an edge since that try.
class [[nodiscard]] Socket::ReadyAwaiter {
 public:
  ReadyAwaiter(Socket& s, Interest interest) noexcept : s_(&s), interest_(interest) {}
  ReadyAwaiter(ReadyAwaiter&& o) noexcept : s_(o.s_), interest_(o.interest_) {}
  ReadyAwaiter& operator=(ReadyAwaiter&&) = delete;

  bool await_ready() noexcept {
    const std::optional<std::uint32_t> since = s_->blocked_[static_cast<int>(interest_)].since();
    if (!since) return consume_budget().await_ready();  // spent: await_suspend yields
    wait_.emplace(s_->reg_, interest_, *since);
    return wait_->await_ready();  // an edge came since the try
  }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) {
    if (!wait_) {
      consume_budget().await_suspend(h);
      return true;
    }
    return wait_->await_suspend(h, where);  // may throw (registration): nothing waits then
  }
  void await_resume() {
    if (!wait_) return;
    wait_->await_resume();  // CancelledError: still blocked, the next wait waits again
    s_->blocked_[static_cast<int>(interest_)].clear();
  }

 private:
  Socket* s_;
  Interest interest_;
  std::optional<IoRegistration::WaitAwaiter> wait_;
};

/// A std::system_error for `err` whose what() is "`what`: <strerror>".
std::system_error socket_error(int err, const std::string& what);

}  // namespace weft::net
