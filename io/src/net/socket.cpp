// weft::net::Socket (socket.hpp).
#include "weft/io/net/socket.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "socket_io.hpp"
#include "sys.hpp"
#include "weft/runtime/budget.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/time.hpp"

namespace weft::net {

namespace {

void make_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    throw socket_error(errno, "fcntl(O_NONBLOCK) on fd " + std::to_string(fd));
  }
  int fdfl = ::fcntl(fd, F_GETFD);
  if (fdfl >= 0) ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
}

/// accept's errors that say "not now": out of descriptors or kernel memory.
bool is_out_of_resources(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/// Throws socket_error for errno, naming `what` and the socket's address. errno is read
/// first: describe() makes syscalls that may change it.
[[noreturn]] void fail_with_errno(const Socket& s, const char* what) {
  const int err = errno;
  throw socket_error(err, s.describe(what));
}

}  // namespace

std::system_error socket_error(int err, const std::string& what) {
  return std::system_error(err, std::system_category(), what);
}

Socket::Socket(int fd) : fd_(fd) {
  if (fd_ < 0) throw std::invalid_argument("weft::net::Socket: invalid fd");
  try {
    make_nonblocking(fd_);
  } catch (...) {
    ::close(std::exchange(fd_, -1));
    throw;
  }
  reg_ = IoRegistration(fd_);
}

Socket Socket::open(int family, int type, int protocol) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw socket_error(errno, "socket");
  Socket s;
  s.fd_ = fd;
  s.reg_ = IoRegistration(fd);
  return s;
}

Socket::Socket(Socket&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), tcp_(std::exchange(o.tcp_, false)), reg_(std::move(o.reg_)) {
  blocked_[0].take(o.blocked_[0]);
  blocked_[1].take(o.blocked_[1]);
}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    tcp_ = std::exchange(o.tcp_, false);
    reg_ = std::move(o.reg_);
    blocked_[0].take(o.blocked_[0]);
    blocked_[1].take(o.blocked_[1]);
  }
  return *this;
}

void Socket::close() noexcept {
  if (fd_ < 0) return;
  reg_.reset();
  ::close(std::exchange(fd_, -1));
}

int Socket::release() noexcept {
  reg_.reset();
  return std::exchange(fd_, -1);
}

SocketAddress Socket::local_address() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw socket_error(errno, "getsockname");
  }
  return SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&ss), len);
}

SocketAddress Socket::peer_address() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw socket_error(errno, "getpeername");
  }
  return SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string Socket::describe(const char* what) const {
  std::string s = what;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ||
      (len = sizeof ss, ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)) {
    s += ' ';
    s += SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&ss), len).to_string();
  }
  return s;
}

void Socket::set_option(int level, int name, int value, const char* what) {
  if (::setsockopt(fd_, level, name, &value, sizeof value) < 0) {
    fail_with_errno(*this, what);
  }
}

int Socket::get_option(int level, int name, const char* what) const {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, name, &value, &len) < 0) fail_with_errno(*this, what);
  return value;
}

Task<std::size_t> Socket::recv(std::span<std::byte> buf, int flags) {
  return until_done<std::size_t>(Interest::kRead, "read",
                                 [this, buf, flags] { return try_recv(buf, flags); });
}

Task<std::size_t> Socket::send(std::span<const std::byte> buf, int flags) {
  return until_done<std::size_t>(Interest::kWrite, "write",
                                 [this, buf, flags] { return try_send(buf, flags); });
}

std::optional<std::size_t> Socket::try_recv(std::span<std::byte> buf, int flags) {
  const std::size_t drained_below = tcp_ && (flags & MSG_PEEK) == 0 ? buf.size() : 0;
  return try_io(Interest::kRead, "read", drained_below,
                [&] { return sys::recvfrom(fd_, buf.data(), buf.size(), flags); });
}

std::optional<std::size_t> Socket::try_send(std::span<const std::byte> buf, int flags) {
  return try_io(Interest::kWrite, "write", 0,
                [&] { return sys::sendto(fd_, buf.data(), buf.size(), flags | MSG_NOSIGNAL); });
}

Socket::ReadyAwaiter Socket::readable() {
  return ready(Interest::kRead);
}
Socket::ReadyAwaiter Socket::writable() {
  return ready(Interest::kWrite);
}

Socket::ReadyAwaiter Socket::ready(Interest interest) {
  if (fd_ < 0) throw UsageError("weft::net: readable()/writable() on a closed socket");
  return ReadyAwaiter(*this, interest);
}

Task<void> Socket::send_all(std::span<const std::byte> buf) {
  // Not a loop of send() (one coroutine frame per call, not one per send(2)), and a
  // hand-written copy of try_io's loop, not until_done: every reply of an echo server comes
  // here, and the shared loop adds instructions to that path (bench/results, io-constants).
  if (fd_ < 0) throw UsageError("weft::net: write on a closed socket");
  bool sent_any = false;
  while (!buf.empty()) {
    const auto seq = reg_.ready_seq(Interest::kWrite);
    ssize_t n = sys::sendto(fd_, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      buf = buf.subspan(static_cast<std::size_t>(n));
      sent_any = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) fail_with_errno(*this, "write");
    co_await reg_.wait(Interest::kWrite, seq);
  }
  if (sent_any) co_await consume_budget();
}

Task<void> Socket::sendv_all(std::span<iovec> iov) {
  if (fd_ < 0) throw UsageError("weft::net: write on a closed socket");
  Blocked& blocked = blocked_[static_cast<int>(Interest::kWrite)];
  while (!iov.empty() && iov.front().iov_len == 0) iov = iov.subspan(1);
  while (!iov.empty()) {
    if (const std::optional<std::uint32_t> since = blocked.since()) {
      co_await reg_.wait(Interest::kWrite, *since);
      blocked.clear();
    }
    const std::optional<std::size_t> n = try_io(Interest::kWrite, "writev", 0, [&] {
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = std::min<std::size_t>(iov.size(), IOV_MAX);
      return sys::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    });
    if (!n) continue;
    auto left = *n;
    while (!iov.empty() && left >= iov.front().iov_len) {
      left -= iov.front().iov_len;
      iov = iov.subspan(1);
    }
    if (left > 0) {
      iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + left;
      iov.front().iov_len -= left;
    }
    co_await consume_budget();
  }
}

Task<std::size_t> Socket::recv_from(std::span<std::byte> buf, SocketAddress& from) {
  return until_done<std::size_t>(Interest::kRead, "recv_from", [this, buf, &from] {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const std::optional<std::size_t> n = try_io(Interest::kRead, "recv_from", 0, [&] {
      len = sizeof ss;
      return sys::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    });
    if (n) from = SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&ss), len);
    return n;
  });
}

Task<std::size_t> Socket::send_to(std::span<const std::byte> buf, const SocketAddress& to) {
  return until_done<std::size_t>(Interest::kWrite, "send_to", [this, buf, &to] {
    return try_io(
        Interest::kWrite, 0,
        [&] {
          return sys::sendto(fd_, buf.data(), buf.size(), MSG_NOSIGNAL, to.data(), to.size());
        },
        [&](int err) -> bool { throw socket_error(err, "send_to " + to.to_string()); });
  });
}

Task<void> Socket::connect(const SocketAddress& to) {
  if (fd_ < 0) throw UsageError("weft::net: connect on a closed socket");
  const auto seq = reg_.ready_seq(Interest::kWrite);
  if (::connect(fd_, to.data(), to.size()) == 0) co_return;
  if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
    throw socket_error(errno, "connect " + to.to_string());
  }
  auto s = seq;
  for (;;) {
    co_await reg_.wait(Interest::kWrite, s);
    s = reg_.ready_seq(Interest::kWrite);
    int err = get_option(SOL_SOCKET, SO_ERROR, "getsockopt(SO_ERROR)");
    if (err != 0) throw socket_error(err, "connect " + to.to_string());
    // Writable and no error: connected, unless the event was for something else.
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) co_return;
    if (errno != ENOTCONN) throw socket_error(errno, "connect " + to.to_string());
  }
}

Task<Socket> Socket::accept(SocketAddress* peer) {
  if (fd_ < 0) throw UsageError("weft::net: accept on a closed socket");
  Blocked& blocked = blocked_[static_cast<int>(Interest::kRead)];
  auto backoff = std::chrono::milliseconds(10);
  for (;;) {
    if (const std::optional<std::uint32_t> since = blocked.since()) {
      co_await reg_.wait(Interest::kRead, *since);
      blocked.clear();
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    bool out_of_resources = false;
    const std::optional<std::size_t> fd = try_io(
        Interest::kRead, 0,
        [&] {
          len = sizeof ss;
          return ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        },
        [&](int err) -> bool {
          if (err == ECONNABORTED) return true;  // that connection is gone: take the next
          if (!is_out_of_resources(err)) throw socket_error(err, describe("accept"));
          out_of_resources = true;
          return false;
        });
    if (fd) {
      if (peer) *peer = SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&ss), len);
      Socket s;
      s.fd_ = static_cast<int>(*fd);
      s.reg_ = IoRegistration(s.fd_);
      co_await consume_budget();
      co_return s;
    }
    if (out_of_resources) {
      // The connection waits in the backlog; try again later rather than spin. No
      // exception on this path: it may be taken many times while the process is full.
      co_await sleep(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
    }
  }
}

}  // namespace weft::net
