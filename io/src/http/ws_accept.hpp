// The server's side of the WebSocket opening handshake (RFC 6455 §4.2): checking an upgrade
// request and writing the answer. Pure code over a parsed request head; the HTTP server
// sends the answer and, on 101, hands the connection to a ws::WebSocket.
//
// What a request needs (§4.2.1), each refused with 400 and a message naming it: GET,
// HTTP/1.1 or later, "Upgrade: websocket" with "Connection: upgrade" (the parser's upgrade
// field), exactly one Sec-WebSocket-Key that is the base64 of 16 bytes. A
// Sec-WebSocket-Version other than 13 is answered 426 with "Sec-WebSocket-Version: 13", as
// §4.4 asks, so that a client can retry with a version this server speaks. Extensions
// offered are declined by not answering them (§9.1).
#pragma once

#include <span>
#include <string>

#include "message_head.hpp"

namespace weft::http::ws::detail {

struct UpgradeAnswer {
  /// 101 when the handshake succeeds, 400 for a request that is not a valid one, 426 for a
  /// WebSocket version other than 13.
  int status = 0;
  /// The bytes to send: the response head, and for a refusal a short text body saying why
  /// (with "Connection: close": the connection ends after it).
  std::string response;
  /// For 101, the subprotocol chosen (empty if none); otherwise what was wrong.
  std::string detail;
};

/// Answers the upgrade request `req`, choosing among `subprotocols` (in the server's order
/// of preference) the first that the client offered. Throws std::bad_alloc and what
/// accept_key throws.
UpgradeAnswer answer_upgrade(const RequestHead& req, std::span<const std::string> subprotocols);

}  // namespace weft::http::ws::detail
