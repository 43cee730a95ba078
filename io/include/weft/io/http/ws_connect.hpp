// weft::http::ws::connect: a WebSocket client's opening handshake (RFC 6455 §4.1), from a
// ws:// or wss:// URL or over a stream the caller connected.
//
//   auto ws = co_await http::ws::connect("ws://127.0.0.1:8765/chat");
//   co_await ws.send_text("hello");
//   std::optional<http::ws::Message> reply = co_await ws.receive();
//   co_await ws.close();
//
// The handshake sends a GET with a fresh Sec-WebSocket-Key and checks the answer as §4.1
// requires: status 101, "Upgrade: websocket", "Connection: upgrade", the
// Sec-WebSocket-Accept computed from the key, a subprotocol only among those offered, and
// no extension (none is offered). Anything else is a ws::HandshakeError naming the URL and
// what was wrong; the connection is closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/io/http/websocket.hpp>
#include <weft/io/net/any_stream.hpp>
#include <weft/io/tls/context.hpp>
#include <weft/runtime/task.hpp>

namespace weft::http::ws {

/// How ws::connect connects and what it asks for.
struct ConnectOptions {
  /// Subprotocols to offer (Sec-WebSocket-Protocol), preferred first; empty: none.
  std::vector<std::string> subprotocols{};
  /// More request header fields (Origin, Authorization, cookies). Names and values must not
  /// hold CR or LF (std::invalid_argument).
  std::vector<std::pair<std::string, std::string>> headers{};
  /// The TLS context of a wss:// URL; unset: a client context on the system's trust store,
  /// with verification on.
  std::optional<tls::Context> tls{};
  /// The whole of connecting: name resolution, TCP, TLS and the handshake
  /// (weft::TimeoutError naming the URL past it).
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  /// The largest handshake response head accepted.
  std::size_t max_response_head = 16 * 1024;
  /// The connection's own options (maximum message, close timeout).
  Options options{};
};

/// The server refused or botched the opening handshake.
class HandshakeError : public Error {
 public:
  HandshakeError(const std::string& what, int status) : Error(what, 1006), status_(status) {}
  /// The response's HTTP status (0 when no valid response head came).
  int status() const noexcept { return status_; }

 private:
  int status_;
};

/// Connects to `url` (ws://host[:port][/path][?query] or wss://...; IPv6 hosts in
/// brackets) and runs the handshake. Throws std::invalid_argument for a URL it cannot use,
/// ws::HandshakeError, weft::TimeoutError, net::ResolveError, std::system_error ("connect
/// ADDR: ...") or tls::Error. A cancellation point.
Task<WebSocket> connect(std::string_view url, ConnectOptions options = {});

/// Runs the handshake over `stream`, connected (and TLS-wrapped) by the caller, asking for
/// `target` ("/chat?room=1") of `host` (the Host field: "example.com" or "example.com:8080").
/// Throws as connect(url) does, except for connecting.
Task<WebSocket> connect(net::AnyStream stream, std::string_view host, std::string_view target,
                        ConnectOptions options = {});

}  // namespace weft::http::ws
