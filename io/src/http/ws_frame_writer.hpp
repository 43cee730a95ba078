// Writing WebSocket frames (RFC 6455 §5.2): headers, masking for a client, close frames.
//
// A server's frames are not masked, so a large payload goes out untouched: header() gives
// the header bytes, and the connection writes them and the caller's payload with one
// writev. A client's payload must be masked (§5.3) under a fresh random key per frame, which
// takes a copy; append_frame makes it while it appends the header, one pass over the
// payload. Control frames are small and always go through append_frame.
//
// The writer refuses what would break the protocol with exceptions, since the caller chose
// it: a control frame over 125 bytes or fragmented, a close code that close frames may not
// carry, a close reason over 123 bytes or not UTF-8. It does not validate the UTF-8 of text
// frames: a fragment may end inside a code point, so that check belongs to whoever holds the
// whole message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ws_frame.hpp"

namespace weft::http::ws::detail {

/// A frame header in wire form.
struct EncodedHeader {
  std::array<std::byte, kMaxHeaderSize> bytes{};
  std::uint8_t size = 0;
  /// The key that the payload is to be masked with, for a masked header (the last 4 bytes).
  MaskKey mask_key{};

  std::span<const std::byte> view() const noexcept { return {bytes.data(), size}; }
};

/// Encodes `h` (its length in the shortest form, its key if `h.masked`). Throws
/// std::invalid_argument for a control frame that is fragmented or over 125 bytes, and for
/// a length of 2^63 or more.
EncodedHeader encode_header(const FrameHeader& h);

class FrameWriter {
 public:
  /// A writer for the frames that `role`'s end sends.
  explicit FrameWriter(Role role) noexcept : role_(role) {}

  /// The header of a frame of `length` payload bytes. A server writes the payload after it
  /// as it is; a client's header has a fresh random key, and the payload must be masked
  /// with it (mask_bytes with the header's mask_key). Throws as encode_header.
  EncodedHeader header(Opcode op, std::uint64_t length, bool fin = true);

  /// Appends a whole frame to `out`: the header, then the payload (masked for a client).
  /// Throws as encode_header.
  void append_frame(std::vector<std::byte>& out, Opcode op, std::span<const std::byte> payload,
                    bool fin = true);

  /// Appends a close frame with `code` and `reason`; code 1005 (kCloseNoStatus) sends a
  /// close frame without a payload, and then `reason` must be empty. Throws
  /// std::invalid_argument for a code that close_code_valid_on_wire refuses (other than
  /// 1005) or a reason that is not UTF-8, std::length_error for a reason over 123 bytes.
  void append_close(std::vector<std::byte>& out, std::uint16_t code, std::string_view reason);

  Role role() const noexcept { return role_; }

 private:
  Role role_;
};

}  // namespace weft::http::ws::detail
