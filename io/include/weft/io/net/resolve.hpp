// weft::net::resolve and connect_host: host names to socket addresses (asyncio's
// loop.getaddrinfo and the connecting half of open_connection).
//
// A numeric host ("127.0.0.1", "::1", "[::1]") is parsed in place, with no system call. Any
// other name goes to getaddrinfo(3) on the runtime's blocking pool (weft::to_thread), so a
// slow DNS server never blocks a worker. AI_ADDRCONFIG is off, so "localhost" resolves on
// a machine without a configured network. getaddrinfo cannot be interrupted: a resolve that
// is cancelled (or times out) while the lookup runs ends with CancelledError (TimeoutError)
// only when the lookup returns.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <weft/runtime/task.hpp>

#include "weft/io/net/address.hpp"
#include "weft/io/net/tcp.hpp"

namespace weft::net {

/// A host name could not be resolved (socket.gaierror). what() is "resolve HOST: reason",
/// with getaddrinfo's reason (gai_strerror).
class ResolveError : public std::runtime_error {
 public:
  /// `code` is getaddrinfo's EAI_* result; `sys_errno` the errno that goes with EAI_SYSTEM.
  ResolveError(std::string host, int code, int sys_errno = 0);
  /// The host that was looked up.
  const std::string& host() const noexcept { return host_; }
  /// getaddrinfo's EAI_* code (EAI_NONAME: no such host; EAI_AGAIN: try again later).
  int code() const noexcept { return code_; }

 private:
  std::string host_;
  int code_;
};

/// The addresses of `host` with `port`, in getaddrinfo's order of preference, without
/// duplicates; never empty. `family` is AF_UNSPEC (both), AF_INET or AF_INET6. Throws
/// ResolveError naming the host, std::invalid_argument for an empty host or another family.
Task<std::vector<SocketAddress>> resolve(std::string_view host, std::uint16_t port,
                                         int family = AF_UNSPEC);

/// Connects to the first of `addresses` that accepts, trying them in order; if none does,
/// throws the last one's std::system_error ("connect ADDR: reason"). Throws
/// std::invalid_argument if `addresses` is empty. Other errors (cancellation, timeouts)
/// end the attempts at once.
Task<TcpStream> connect_first(std::vector<SocketAddress> addresses);

/// Resolves `host` and connects to the first address that accepts (asyncio's
/// open_connection(host, port), without the streams). Throws ResolveError, or the last
/// address's std::system_error.
Task<TcpStream> connect_host(std::string_view host, std::uint16_t port);

}  // namespace weft::net
