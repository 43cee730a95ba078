// weft::net::TcpStream and TcpListener (tcp.hpp).
#include "weft/io/net/tcp.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/time.hpp"

namespace weft::net {

IncompleteRead::IncompleteRead(std::size_t got, std::size_t expected, const std::string& where)
    : std::runtime_error(where + ": the stream ended after " + std::to_string(got) + " of " +
                         std::to_string(expected) + " bytes"),
      got_(got),
      expected_(expected) {}

Task<TcpStream> TcpStream::connect(SocketAddress to) {
  Socket s = Socket::open(to.family(), SOCK_STREAM);
  co_await s.connect(to);
  if (to.family() != AF_UNIX) {
    s.set_option(IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
    s.set_tcp();
  }
  co_return TcpStream(std::move(s));
}

Task<TcpStream> TcpStream::connect(SocketAddress to, std::chrono::milliseconds timeout) {
  co_return co_await wait_for(connect(std::move(to)), timeout);
}

Task<void> TcpStream::read_exact(std::span<std::byte> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    std::size_t n = co_await sock_.recv(buf.subspan(got));
    if (n == 0) throw IncompleteRead(got, buf.size(), sock_.describe("read_exact"));
    got += n;
  }
}

void TcpStream::shutdown(Shutdown how) {
  if (::shutdown(sock_.fd(), static_cast<int>(how)) < 0) {
    const int err = errno;  // before describe(), which makes syscalls
    throw socket_error(err, sock_.describe("shutdown"));
  }
}

Task<void> TcpStream::finish_writing() {
  shutdown(Shutdown::kWrite);
  co_return;
}

void TcpStream::set_nodelay(bool on) {
  sock_.set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, "setsockopt(TCP_NODELAY)");
}

void TcpStream::set_keepalive(bool on, std::chrono::seconds idle) {
  sock_.set_option(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0, "setsockopt(SO_KEEPALIVE)");
  if (on && idle.count() > 0) {
    sock_.set_option(IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(idle.count()),
                     "setsockopt(TCP_KEEPIDLE)");
  }
}

TcpListener TcpListener::bind(const SocketAddress& addr, ListenOptions options) {
  if (options.backlog <= 0) {
    throw std::invalid_argument("weft::net::TcpListener::bind: backlog must be positive, got " +
                                std::to_string(options.backlog));
  }
  TcpListener l;
  l.sock_ = Socket::open(addr.family(), SOCK_STREAM);
  if (addr.family() != AF_UNIX) {
    if (options.reuse_address) {
      l.sock_.set_option(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
    }
    if (options.reuse_port) {
      l.sock_.set_option(SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
      l.register_accepted_ = true;
    }
    if (addr.family() == AF_INET6) {
      l.sock_.set_option(IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0,
                         "setsockopt(IPV6_V6ONLY)");
    }
  }
  if (::bind(l.sock_.fd(), addr.data(), addr.size()) < 0) {
    throw socket_error(errno, "bind " + addr.to_string());
  }
  if (::listen(l.sock_.fd(), options.backlog) < 0) {
    throw socket_error(errno, "listen " + addr.to_string());
  }
  if (options.worker) {
    l.sock_.registration().register_on(*options.worker);
    l.worker_ = options.worker;
  }
  return l;
}

Task<std::pair<TcpStream, SocketAddress>> TcpListener::accept() {
  SocketAddress peer;
  Socket s = co_await sock_.accept(&peer);
  if (peer.family() != AF_UNIX) {
    s.set_option(IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
    s.set_tcp();
  }
  // A per-worker listener's connection stays on its worker (ListenOptions::reuse_port), where
  // the kernel put it. Registered where their tasks first wait, connections spread unevenly:
  // an idle worker steals new connection tasks during a burst of connects, and the less busy
  // worker then steals from the other for as long as they run
  // (bench/results/2026-12-06-io-constants.md).
  // A listener with a worker of its own gives its connections to that worker's epoll,
  // wherever the accepting task runs (it may have been stolen, or have found connections
  // waiting without being woken there).
  if (worker_) {
    s.registration().register_on(*worker_);
  } else if (register_accepted_) {
    s.registration().register_here();
  }
  co_return std::pair<TcpStream, SocketAddress>(TcpStream(std::move(s)), peer);
}

}  // namespace weft::net
