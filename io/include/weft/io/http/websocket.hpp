// weft::http::ws::WebSocket: one WebSocket connection (RFC 6455) after its opening
// handshake, at either end: messages in and out, ping and pong, the closing handshake.
//
// A WebSocket comes from ws::connect (the client, ws_connect.hpp) or from the HTTP server's
// upgrade; it can also be made over any byte stream whose handshake was done elsewhere.
//
//   while (auto msg = co_await ws.receive()) {      // std::nullopt once the peer closed
//     co_await ws.send_text(msg->data);
//   }
//
// Receiving: receive() gives whole messages (text is checked to be UTF-8, a message over
// Options::max_message is refused with 1009 before it is buffered). Pings are answered with
// pongs inside receive(); a pong arrives as nothing. The peer's close frame is answered with
// the same code and ends receive() with std::nullopt; close_code() and close_reason() then
// tell what the peer sent. A peer that breaks the protocol gets a close frame with the code
// of what it broke (1002, 1007, 1009) and the connection is dropped: receive() throws
// ws::ProtocolError. A connection that ends without a close frame throws
// ws::ConnectionClosed (code 1006).
//
// Closing: close(code, reason) sends a close frame, waits up to Options::close_timeout for
// the peer's (through the task that is in receive(), if one is), then drops the
// connection. A server drops it right after the exchange; a client waits for the server to
// end the TCP connection first, as §7.1.1 asks, within the same timeout.
//
// Threads: one task may receive while others send; sends are serialized, so the frames of
// different messages never mix. Only one task at a time may be in receive().
// Cancelling a receive() loses nothing: what it had read stays for the next call. Cancelling
// a send may leave part of a frame written, so the connection is then dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <weft/io/net/any_stream.hpp>
#include <weft/runtime/task.hpp>

namespace weft::http::ws {

/// What a message carries: text (UTF-8) or bytes.
enum class MessageType : std::uint8_t { kText, kBinary };

/// One whole message as received.
struct Message {
  MessageType type = MessageType::kText;
  /// The payload: UTF-8 for text, any bytes for binary.
  std::string data;

  bool is_text() const noexcept { return type == MessageType::kText; }
};

/// Which end of the connection a WebSocket is: the server's frames go unmasked, a client's
/// masked (§5.3).
enum class Role : std::uint8_t { kServer, kClient };

/// What a WebSocket enforces.
struct Options {
  /// Largest message (the sum of its frames) received; a bigger one fails the connection
  /// with 1009 before its payload is read.
  std::size_t max_message = 16 * 1024 * 1024;
  /// How long close() waits for the peer's close frame (and a client for the server to end
  /// the connection after it) before dropping the connection.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(10);
  /// The keep-alive check (aiohttp's heartbeat): while a task is in receive() and nothing
  /// has come from the peer for this long, a ping is sent; if nothing comes back (the pong
  /// or any other frame) within half of it, the peer is taken for gone: the connection is
  /// dropped and receive() throws ws::ConnectionClosed (1006). Zero: off. A connection on
  /// which no task receives is not checked.
  std::chrono::milliseconds heartbeat{0};
};

/// Base of the WebSocket errors: what happened and the close code that goes with it.
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, std::uint16_t code) : std::runtime_error(what), code_(code) {}
  /// The close code (RFC 6455 §7.4): 1006 for a connection lost without a close frame.
  std::uint16_t code() const noexcept { return code_; }

 private:
  std::uint16_t code_;
};

/// The peer broke the protocol (a bad frame, invalid UTF-8, a message over the maximum): it
/// was sent a close frame with code() and the connection was dropped.
class ProtocolError : public Error {
  using Error::Error;
};

/// The connection ended without the closing handshake (code 1006), or a message was sent
/// on a connection that is closing or closed.
class ConnectionClosed : public Error {
  using Error::Error;
};

/// An open WebSocket connection (see the file comment). Move-only; destroying it drops the
/// connection without a closing handshake.
class WebSocket {
 public:
  /// A WebSocket over `stream`, whose opening handshake is done, at `role`'s end.
  /// `already_read` holds bytes read from the stream after the handshake (frames the peer
  /// sent right behind it); they are parsed before anything new is read. `subprotocol` is
  /// the one the handshake agreed on (empty if none). Throws std::invalid_argument if
  /// `options.max_message` is 0 or a duration of `options` is negative.
  WebSocket(net::AnyStream stream, Role role, std::span<const std::byte> already_read = {},
            std::string subprotocol = {}, Options options = {});
  WebSocket(WebSocket&&) noexcept;
  WebSocket& operator=(WebSocket&&) noexcept;
  ~WebSocket();

  /// The next whole message; std::nullopt once the peer's close frame has come (and been
  /// answered). Throws ws::ProtocolError or ws::ConnectionClosed as in the file comment,
  /// std::system_error for a socket error. A cancellation point that loses no data.
  Task<std::optional<Message>> receive();

  /// Sends a text message (`text` must be UTF-8; it is not checked). Throws
  /// ws::ConnectionClosed once a close frame was sent, std::system_error for a socket
  /// error. A cancellation point.
  Task<void> send_text(std::string_view text);
  /// Sends a binary message. Throws as send_text.
  Task<void> send_binary(std::span<const std::byte> data);
  /// Sends a binary message of `data`'s bytes.
  Task<void> send_binary(std::string_view data);
  /// Sends a ping carrying `payload` (at most 125 bytes: std::length_error otherwise). The
  /// peer's pong comes back through receive(), which does not report it.
  Task<void> ping(std::string_view payload = {});

  /// Runs the closing handshake with `code` (1000 normal, 1001 going away, 3000-4999 the
  /// application's) and `reason` (UTF-8, at most 123 bytes), then drops the connection (see
  /// the file comment). Does nothing if the connection is already closed. Throws
  /// std::invalid_argument for a code a close frame may not carry or a reason that is not
  /// UTF-8, std::length_error for a reason over 123 bytes. Never throws for the peer's
  /// failures: the connection is dropped anyway.
  Task<void> close(std::uint16_t code = 1000, std::string_view reason = {});

  /// The code of the peer's close frame (1005 if it carried none) once one came; nullopt
  /// before.
  std::optional<std::uint16_t> close_code() const noexcept;
  /// The reason of the peer's close frame; empty before one came.
  std::string_view close_reason() const noexcept;
  /// The subprotocol the handshake agreed on; empty if none.
  std::string_view subprotocol() const noexcept;
  /// The stream underneath (its addresses; tcp() for socket options).
  net::AnyStream& stream() noexcept;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace weft::http::ws
