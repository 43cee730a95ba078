// weft::net::UdpSocket (udp.hpp).
#include "weft/io/net/udp.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "socket_io.hpp"
#include "sys.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::net {

UdpSocket UdpSocket::bind(const SocketAddress& addr, UdpOptions options) {
  UdpSocket u(Socket::open(addr.family(), SOCK_DGRAM));
  Socket& s = u.sock_;
  if (options.reuse_address) s.set_option(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
  if (options.reuse_port) s.set_option(SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
  if (options.broadcast) s.set_option(SOL_SOCKET, SO_BROADCAST, 1, "setsockopt(SO_BROADCAST)");
  if (addr.family() == AF_INET6) {
    s.set_option(IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0, "setsockopt(IPV6_V6ONLY)");
  }
  if (::bind(s.fd(), addr.data(), addr.size()) < 0) {
    const int err = errno;  // before to_string(), which may change it
    throw socket_error(err, "bind " + addr.to_string());
  }
  return u;
}

Task<std::size_t> UdpSocket::transfer(Interest dir, msghdr* msg, const char* what,
                                      const SocketAddress* to) {
  if (!sock_.is_open()) {
    throw UsageError(std::string("weft::net::UdpSocket: ") + what + " on a closed socket");
  }
  const socklen_t name_capacity = msg->msg_namelen;
  return sock_.until_done<std::size_t>(dir, what, [this, dir, msg, name_capacity, what, to] {
    return sock_.try_io(
        dir, 0,
        [&] {
          msg->msg_namelen = name_capacity;  // recvmsg overwrites it with the sender's length
          return dir == Interest::kRead ? sys::recvmsg(sock_.fd(), msg, 0)
                                        : sys::sendmsg(sock_.fd(), msg, MSG_NOSIGNAL);
        },
        [&](int err) -> bool {
          throw socket_error(err,
                             to ? std::string(what) + ' ' + to->to_string() : sock_.describe(what));
        });
  });
}

Task<std::size_t> UdpSocket::send_to(std::span<const std::byte> buf, const SocketAddress& to) {
  iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to.data());
  msg.msg_namelen = to.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  co_return co_await transfer(Interest::kWrite, &msg, "send_to", &to);
}

Task<std::pair<std::size_t, SocketAddress>> UdpSocket::recv_from(std::span<std::byte> buf) {
  iovec iov{buf.data(), buf.size()};
  sockaddr_storage from{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const std::size_t n = co_await transfer(Interest::kRead, &msg, "recv_from", nullptr);
  co_return std::pair(n,
                      SocketAddress::from_raw(reinterpret_cast<sockaddr*>(&from), msg.msg_namelen));
}

void UdpSocket::connect(const SocketAddress& peer) {
  if (!sock_.is_open()) throw UsageError("weft::net::UdpSocket: connect on a closed socket");
  if (::connect(sock_.fd(), peer.data(), peer.size()) < 0) {
    const int err = errno;  // before to_string(), which may change it
    throw socket_error(err, "connect " + peer.to_string());
  }
}

Task<std::size_t> UdpSocket::send(std::span<const std::byte> buf) {
  iovec iov{const_cast<std::byte*>(buf.data()), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  co_return co_await transfer(Interest::kWrite, &msg, "send", nullptr);
}

Task<std::size_t> UdpSocket::recv(std::span<std::byte> buf) {
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  co_return co_await transfer(Interest::kRead, &msg, "recv", nullptr);
}

void UdpSocket::set_broadcast(bool on) {
  sock_.set_option(SOL_SOCKET, SO_BROADCAST, on ? 1 : 0, "setsockopt(SO_BROADCAST)");
}

}  // namespace weft::net
