// TcpEchoTarget: a request/response target over TCP whose server echoes what it reads, as
// bench/echo's weft-echo-server and epoll-echo-server do. A request writes `payload` bytes
// and reads the same number back, checking every byte, so a server that drops, reorders or
// mixes up responses fails its requests instead of looking fast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "weft/profile/target.hpp"

namespace weft::profile {

/// Echo requests of a fixed size over TCP, one connection per session.
class TcpEchoTarget : public Target {
 public:
  /// A target at `host`:`port` (a name or a numeric address) sending `payload` bytes per
  /// request. Throws std::invalid_argument for a payload of 0 bytes.
  TcpEchoTarget(std::string host, std::uint16_t port, std::size_t payload);

  /// Resolves the host and connects with TCP_NODELAY. Throws weft::net::ResolveError or
  /// std::system_error "connect ADDR: reason".
  Task<std::unique_ptr<Session>> connect() override;
  /// "tcp-echo HOST:PORT payload N".
  std::string describe() const override;

 private:
  std::string host_;
  std::uint16_t port_;
  std::size_t payload_;
};

}  // namespace weft::profile
