// weft::net::SocketAddress: an IPv4, IPv6 or Unix-domain socket address.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::net {

/// A socket address of any family, held by value (a sockaddr_storage).
class SocketAddress {
 public:
  SocketAddress() noexcept = default;
  /// From a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "[::1]") address and a port. Throws
  /// std::invalid_argument naming `host` if it is neither (names go through net::resolve).
  static SocketAddress ip(std::string_view host, std::uint16_t port);
  /// A Unix-domain socket path; a leading '@' names an abstract socket. Throws
  /// std::invalid_argument if the path is empty or too long for sockaddr_un.
  static SocketAddress unix_path(std::string_view path);
  /// Copies `len` bytes of `sa` (as returned by accept, getsockname, recvfrom...).
  static SocketAddress from_raw(const sockaddr* sa, socklen_t len);

  int family() const noexcept { return storage_.ss_family; }
  bool empty() const noexcept { return len_ == 0; }
  /// The port (IPv4/IPv6; 0 for Unix addresses).
  std::uint16_t port() const noexcept;
  /// The host part: "127.0.0.1", "::1", or the Unix path ("@name" when abstract).
  std::string host() const;
  /// "127.0.0.1:8080", "[::1]:8080" or "unix:/path".
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace weft::net
