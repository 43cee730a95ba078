// WebSocket frames (RFC 6455 §5): the vocabulary of the codec (roles, opcodes, close codes,
// the frame header, protocol errors) and FrameParser, which reads frames from a byte stream.
//
// FrameParser is incremental and does no I/O: given the bytes read so far it reports one of
//   - kNeedMore: it took every byte given and needs more to report anything;
//   - kChunk: a piece of one frame's payload, unmasked in place in the caller's buffer, with
//     frame_start when the frame's header was read on this call (header() is then the new
//     frame's) and frame_end when the payload is complete. A frame's header is reported as
//     soon as it is whole, before any payload arrives, so a receiver can refuse a frame too
//     large for it without buffering any of it; a frame whose bytes are all there comes as
//     one chunk with both flags set;
//   - kError: the input broke a rule of RFC 6455; error() names it with the close code to
//     send. A parser that failed stays failed.
// The same bytes give the same frames and errors however they are split between calls: the
// header is gathered into a small buffer and checked in wire order.
//
// What it refuses, with close code 1002 (protocol error), as §5.2 and §5.5 require of a
// receiver that negotiated no extension:
//   - RSV1-3 set (their meaning comes only from an extension);
//   - opcodes 3-7 and B-F, reserved;
//   - a control frame (close, ping, pong) that is fragmented or carries more than 125 bytes;
//   - a frame from a client that is not masked (the server's parser) and a frame from a
//     server that is masked (the client's), §5.1;
//   - a 64-bit length with its most significant bit set;
//   - a length not in its shortest form (126 with a 16-bit length under 126, 127 with a
//     64-bit length under 65536). §5.2 says "the minimal number of bytes MUST be used to
//     encode the length": a conforming sender never does otherwise, and refusing it keeps one
//     encoding per frame, so a parsed header re-encodes to the bytes it came from.
// Whether a close frame's code and reason are valid is the MessageAssembler's check, which
// sees the whole payload (ws_message.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "ws_mask.hpp"

namespace weft::http::ws::detail {

/// Which end of the connection the codec runs at: a server reads masked frames and writes
/// unmasked ones, a client the other way round.
enum class Role : std::uint8_t { kServer, kClient };

/// Frame opcodes (§5.2, §11.8); the others are reserved.
enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

/// True for close, ping and pong, whose opcodes have the high bit set (§5.5).
constexpr bool is_control(Opcode op) noexcept {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

/// Close codes of §7.4.1 that the codec itself uses.
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
/// Reported for a close frame without a code; never sent in a frame.
inline constexpr std::uint16_t kCloseNoStatus = 1005;
/// Reported when the connection ended without a close frame; never sent in a frame.
inline constexpr std::uint16_t kCloseAbnormal = 1006;
inline constexpr std::uint16_t kCloseInvalidPayload = 1007;
inline constexpr std::uint16_t kCloseMessageTooBig = 1009;

/// True for the close codes a close frame may carry: 1000-1003 and 1007-1014 (RFC 6455 and
/// the IANA registry it set up), 3000-4999 (libraries and applications). The rest are
/// invalid on the wire: under 1000 unused, 1004 reserved, 1005, 1006 and 1015 only ever
/// reported locally, 1016-2999 reserved for future standards, 5000 and up undefined.
constexpr bool close_code_valid_on_wire(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/// Largest header: 2 bytes, a 64-bit length, a masking key.
inline constexpr std::size_t kMaxHeaderSize = 14;
/// Largest payload of a control frame (§5.5).
inline constexpr std::size_t kMaxControlPayload = 125;

/// A frame header as read or to be written (RSV bits are always zero: no extensions).
struct FrameHeader {
  Opcode opcode = Opcode::kContinuation;
  bool fin = false;
  bool masked = false;
  MaskKey mask_key{};
  std::uint64_t length = 0;
};

/// Why a connection is failed: the close code to send and what was wrong, short and ASCII
/// so that it fits a close frame's reason (123 bytes).
struct ProtocolError {
  std::uint16_t code = 0;
  std::string reason;
};

class FrameParser {
 public:
  enum class Status : std::uint8_t { kNeedMore, kChunk, kError };

  struct Result {
    Status status = Status::kNeedMore;
    /// Bytes of the input used: all of it for kNeedMore, up to the chunk's end for kChunk.
    std::size_t consumed = 0;
    /// kChunk: the payload bytes of this call, unmasked, inside the input.
    std::span<std::byte> payload{};
    /// kChunk: header() was read on this call.
    bool frame_start = false;
    /// kChunk: the last of the frame's payload.
    bool frame_end = false;
  };

  /// A parser for the frames that arrive at `role`'s end.
  explicit FrameParser(Role role) noexcept : role_(role) {}

  /// Reads from `input`, which starts where the previous call's `consumed` ended. Unmasks
  /// payload in place. Throws nothing but std::bad_alloc (for an error's reason).
  Result parse(std::span<std::byte> input);

  /// The current frame's header, from the kChunk that had frame_start on.
  const FrameHeader& header() const noexcept { return header_; }
  /// What was wrong, after kError.
  const ProtocolError& error() const noexcept { return error_; }

 private:
  Result fail(std::string reason, std::size_t consumed);
  // The header's checks, each run once the bytes it reads are there, so that an error is
  // found at the same byte however the input is split. Each returns what is wrong, or an
  // empty string; check_second_byte also sets need_, decode_rest fills header_.
  std::string check_first_byte() const;
  std::string check_second_byte();
  std::string decode_rest();

  Role role_;
  bool failed_ = false;
  bool in_payload_ = false;
  // The header being gathered: have_ of need_ bytes (need_ grows once byte 2 tells the
  // length's and the key's sizes).
  std::uint8_t have_ = 0;
  std::uint8_t need_ = 2;
  std::array<std::byte, kMaxHeaderSize> raw_{};
  FrameHeader header_;
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  std::uint64_t offset_ = 0;     // payload bytes of the current frame already reported
  ProtocolError error_;
};

}  // namespace weft::http::ws::detail
