// weft::net::UdpSocket: datagrams over IPv4 or IPv6 (asyncio's create_datagram_endpoint and
// loop.sock_recvfrom / sock_sendto).
//
// Each call sends or receives exactly one datagram. Like every weft socket, an operation
// tries the syscall first and waits for readiness only on EAGAIN; a receive cancelled while
// it waits (cancel(), wait_for) has taken nothing from the socket, so the next receive gets
// the datagram that arrived meanwhile. A datagram larger than the buffer is truncated: the
// call returns the bytes stored (buf.size()) and the rest of that datagram is discarded, as
// with recvfrom(2) and Python's sock.recvfrom(bufsize). Several tasks may send and receive
// on one socket at once; each datagram goes to exactly one receiver.
//
// Errors are std::system_error naming the operation and the address, e.g.
// "send_to [::1]:9: Address family not supported by protocol".
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/socket.hpp"

namespace weft::net {

/// Options of UdpSocket::bind.
struct UdpOptions {
  bool reuse_address = false;  ///< SO_REUSEADDR
  bool reuse_port = false;     ///< SO_REUSEPORT (several sockets share the port's datagrams)
  bool v6_only = false;        ///< IPV6_V6ONLY for an IPv6 address (else dual-stack)
  bool broadcast = false;      ///< SO_BROADCAST (send_to a broadcast address)
};

/// A UDP socket. Move-only; closes on destruction.
class UdpSocket {
 public:
  UdpSocket() noexcept = default;
  explicit UdpSocket(Socket s) noexcept : sock_(std::move(s)) {}

  /// A UDP socket bound to `addr` (port 0: an ephemeral port; see local_address()). Throws
  /// std::system_error "bind ADDR: reason". Any thread.
  static UdpSocket bind(const SocketAddress& addr, UdpOptions options = {});

  /// Sends one datagram to `to`; the bytes sent (all of `buf`). Waits while the send buffer
  /// is full. Throws std::system_error "send_to ADDR: reason" (EMSGSIZE if too large).
  Task<std::size_t> send_to(std::span<const std::byte> buf, const SocketAddress& to);
  /// Receives one datagram: the bytes stored in `buf` (truncated to buf.size(); 0 for an
  /// empty datagram) and its sender. Waits until one arrives. Throws std::system_error
  /// "recv_from ADDR: reason".
  Task<std::pair<std::size_t, SocketAddress>> recv_from(std::span<std::byte> buf);

  /// Fixes the peer: send() goes to `peer` and only its datagrams are received. Does not
  /// wait. Throws std::system_error "connect ADDR: reason".
  void connect(const SocketAddress& peer);
  /// Sends one datagram to the connected peer. Throws std::system_error "send ADDR: reason"
  /// (ECONNREFUSED after the peer's port was found closed).
  Task<std::size_t> send(std::span<const std::byte> buf);
  /// Receives one datagram from the connected peer (truncated to buf.size()). Throws
  /// std::system_error "recv ADDR: reason" (ECONNREFUSED when the peer's port is closed).
  Task<std::size_t> recv(std::span<std::byte> buf);

  /// Allows (or forbids) sending to broadcast addresses (SO_BROADCAST).
  void set_broadcast(bool on);

  /// The bound address. Throws std::system_error.
  SocketAddress local_address() const { return sock_.local_address(); }
  /// The connected peer. Throws std::system_error (ENOTCONN) if not connected.
  SocketAddress peer_address() const { return sock_.peer_address(); }
  /// Closes the socket. Must not race an operation on it.
  void close() noexcept { sock_.close(); }
  bool is_open() const noexcept { return sock_.is_open(); }
  Socket& socket() noexcept { return sock_; }

 private:
  /// recvmsg/sendmsg of one datagram, waiting on EAGAIN; errors name `what` and `to` (or
  /// the socket's address when `to` is null). Throws UsageError at once if closed.
  Task<std::size_t> transfer(Interest dir, msghdr* msg, const char* what, const SocketAddress* to);

  Socket sock_;
};

}  // namespace weft::net
