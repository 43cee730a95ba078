// weft::metrics::expose for sockets: a TcpStream, TcpListener, UdpSocket or Unix socket (or
// their Socket) on the metrics pages under a name, its waits counted from now on — kind
// "socket read" (data, or connections for a listener) and "socket write" (room in the send
// buffer) — while the returned Exposure lives (weft/sync/expose.hpp for the primitives):
//
//   weft::net::TcpStream upstream = co_await weft::net::TcpStream::connect(addr);
//   weft::metrics::Exposure exposed = weft::metrics::expose("upstream", upstream);
//
// The socket must stay where it is (not moved) until the Exposure is gone.
#pragma once

#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include <weft/runtime/exposed_waits.hpp>

#include "weft/io/net/socket.hpp"

namespace weft::metrics {

/// Exposes `s`'s read and write waits. Throws std::invalid_argument as expose_waits.
inline Exposure expose(std::string name, net::Socket& s) {
  s.track_waits();
  std::vector<WaitSource> sources;
  sources.push_back({"socket read", [&s] { return s.read_wait_stats(); }});
  sources.push_back({"socket write", [&s] { return s.write_wait_stats(); }});
  return expose_waits(std::move(name), std::move(sources));
}

/// Exposes the socket of a TcpStream, TcpListener, UdpSocket, UnixStream or UnixListener.
template <class S>
requires requires(S& s) {
  { s.socket() } -> std::same_as<net::Socket&>;
}
Exposure expose(std::string name, S& stream) {
  return expose(std::move(name), stream.socket());
}

}  // namespace weft::metrics
