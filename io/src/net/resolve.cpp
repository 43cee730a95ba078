// weft::net::resolve, connect_first and connect_host (resolve.hpp).
#include "weft/io/net/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "weft/runtime/blocking.hpp"

namespace weft::net {

namespace {

std::string gai_reason(int code, int sys_errno) {
  std::string r = ::gai_strerror(code);
  if (code == EAI_SYSTEM && sys_errno != 0) r += ": " + std::system_category().message(sys_errno);
  return r;
}

/// `host` as a numeric IPv4 or IPv6 address (brackets allowed), or nothing if it is not one.
/// inet_pton only parses: no lookup, no file, no socket.
std::optional<SocketAddress> parse_numeric(const std::string& host, std::uint16_t port) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) != 1 && ::inet_pton(AF_INET6, h.c_str(), &v6) != 1) {
    return std::nullopt;
  }
  return SocketAddress::ip(h, port);
}

/// What getaddrinfo answered: the addresses, or its EAI_* code (and errno for EAI_SYSTEM).
struct Lookup {
  std::vector<SocketAddress> addresses;
  int code = 0;
  int sys_errno = 0;
};

/// Blocking: runs on the blocking pool.
Lookup lookup(const std::string& host, std::uint16_t port, int family) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  hints.ai_flags = AI_NUMERICSERV;  // no AI_ADDRCONFIG: "localhost" works offline
  const std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  Lookup out;
  out.code = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (out.code != 0) {
    out.sys_errno = errno;
    return out;
  }
  for (const addrinfo* ai = res; ai; ai = ai->ai_next) {
    auto a = SocketAddress::from_raw(ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.addresses.begin(), out.addresses.end(), a) == out.addresses.end()) {
      out.addresses.push_back(a);
    }
  }
  ::freeaddrinfo(res);
  if (out.addresses.empty()) out.code = EAI_NONAME;
  return out;
}

Task<std::vector<SocketAddress>> resolve_owned(std::string host, std::uint16_t port, int family) {
  if (host.empty()) throw std::invalid_argument("weft::net::resolve: empty host name");
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
    throw std::invalid_argument(
        "weft::net::resolve: family must be AF_UNSPEC, AF_INET or "
        "AF_INET6, got " +
        std::to_string(family));
  }
  if (std::optional<SocketAddress> a = parse_numeric(host, port)) {
    if (family != AF_UNSPEC && a->family() != family) throw ResolveError(host, EAI_ADDRFAMILY);
    co_return std::vector<SocketAddress>{*a};
  }
  Lookup r = co_await to_thread([&] { return lookup(host, port, family); });
  if (r.code != 0) throw ResolveError(host, r.code, r.sys_errno);
  co_return std::move(r.addresses);
}

Task<TcpStream> connect_host_owned(std::string host, std::uint16_t port) {
  std::vector<SocketAddress> addresses = co_await resolve(host, port);
  co_return co_await connect_first(std::move(addresses));
}

}  // namespace

ResolveError::ResolveError(std::string host, int code, int sys_errno)
    : std::runtime_error("resolve " + host + ": " + gai_reason(code, sys_errno)),
      host_(std::move(host)),
      code_(code) {}

Task<std::vector<SocketAddress>> resolve(std::string_view host, std::uint16_t port, int family) {
  // Not a coroutine itself: the host is copied into the task before the caller's view can go.
  return resolve_owned(std::string(host), port, family);
}

Task<TcpStream> connect_first(std::vector<SocketAddress> addresses) {
  if (addresses.empty()) throw std::invalid_argument("weft::net::connect_first: no addresses");
  std::exception_ptr last;
  for (const SocketAddress& a : addresses) {
    try {
      co_return co_await TcpStream::connect(a);
    } catch (const std::system_error&) {
      last = std::current_exception();
    }
  }
  std::rethrow_exception(last);
}

Task<TcpStream> connect_host(std::string_view host, std::uint16_t port) {
  return connect_host_owned(std::string(host), port);
}

}  // namespace weft::net
