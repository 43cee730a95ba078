// The WebSocket opening handshake's computations (RFC 6455 §4): the accept value a server
// answers a key with, checking and making keys, choosing a subprotocol. The HTTP server and
// client do the exchange; these are its pure parts.
//
// SHA-1 comes from OpenSSL's EVP interface: weft::http links OpenSSL for TLS anyway, and a
// vetted implementation beats a hand-written one that only this one-shot hash would use.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weft::http::ws::detail {

/// The GUID that §1.3 appends to the key before hashing.
inline constexpr std::string_view kHandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
/// Throws std::runtime_error if OpenSSL fails to hash.
std::string accept_key(std::string_view key);

/// True when `key` (a Sec-WebSocket-Key value, without surrounding whitespace) is the
/// base64 of 16 bytes (§4.2.1): 22 characters of the base64 alphabet and "==". Like common
/// base64 decoders, it does not insist that the unused low bits of the last character be 0.
bool is_valid_key(std::string_view key) noexcept;

/// A fresh Sec-WebSocket-Key: the base64 of 16 random bytes (§4.1). Throws as
/// random_bytes (ws_mask.hpp).
std::string generate_key();

/// The subprotocol a server answers with: the first of `supported` (in the server's order of
/// preference) that the client offered in `offered`, a Sec-WebSocket-Protocol value (a
/// comma-separated list; several header lines joined with commas). Names compare exactly.
/// std::nullopt when none matches, and the server then sends no Sec-WebSocket-Protocol.
std::optional<std::string_view> select_subprotocol(std::string_view offered,
                                                   std::span<const std::string> supported);

}  // namespace weft::http::ws::detail
