// MessageAssembler: WebSocket messages and control frames from a byte stream (RFC 6455 §5.4,
// §5.5, §8.1), on top of FrameParser (ws_frame.hpp). No I/O: the connection feeds it the
// bytes it reads and acts on what it reports.
//
// next(input) reads frames until it has something to report:
//   - kText, kBinary: a whole message, in message() / take_message();
//   - kPing (answer with a pong carrying control_payload()), kPong;
//   - kClose: the peer's close frame, close_code() (1005 when it carried none) and
//     close_reason(); nothing may follow it, so any later byte is a protocol error;
//   - kError: the connection must be failed with error().code: 1002 for a protocol error,
//     1007 for invalid UTF-8, 1009 for a message over the maximum size. It stays failed.
//   - kNeedMore: every byte was taken and more are needed.
// Reports come in wire order and the same bytes give the same reports however they are
// split between calls.
//
// The rules it adds to FrameParser's:
//   - fragmentation: a continuation frame only inside a fragmented message, a text or binary
//     frame only outside one (1002); control frames may come between fragments (§5.4);
//   - the maximum message size is checked against each data frame's header, before any of
//     its payload is buffered, so a peer cannot make the receiver hold more than the
//     maximum (1009);
//   - text is validated as it arrives, across frames and reads, and fails at the first byte
//     that cannot be valid (1007); a message that ends inside a code point fails too;
//   - a close frame's payload is empty or a code and a UTF-8 reason: a 1-byte payload and a
//     code that close_code_valid_on_wire refuses are 1002, an invalid reason 1007 (§5.5.1,
//     §7.4).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ws_frame.hpp"
#include "ws_utf8.hpp"

namespace weft::http::ws::detail {

class MessageAssembler {
 public:
  enum class Event : std::uint8_t { kNeedMore, kText, kBinary, kPing, kPong, kClose, kError };

  struct Result {
    Event event = Event::kNeedMore;
    /// Bytes of the input used; the next call starts after them.
    std::size_t consumed = 0;
  };

  /// An assembler for the frames arriving at `role`'s end, refusing messages over
  /// `max_message` bytes. Throws std::invalid_argument if `max_message` is 0.
  MessageAssembler(Role role, std::size_t max_message);

  /// Reads frames from `input` (unmasking it in place) up to the next report. The previous
  /// report's message and payloads are gone once it is called. Throws nothing but
  /// std::bad_alloc.
  Result next(std::span<std::byte> input);

  /// The message of a kText (valid UTF-8) or kBinary report.
  std::string_view message() const noexcept { return message_; }
  /// Moves the message of a kText or kBinary report out.
  std::string take_message() noexcept { return std::move(message_); }
  /// The payload of a kPing or kPong report (at most 125 bytes).
  std::span<const std::byte> control_payload() const noexcept {
    return {control_.data(), control_size_};
  }
  /// The code of a kClose report: the frame's, or 1005 (kCloseNoStatus) if it had none.
  std::uint16_t close_code() const noexcept { return close_code_; }
  /// The reason of a kClose report (valid UTF-8, possibly empty).
  std::string_view close_reason() const noexcept;
  /// Why the connection must be failed, after kError.
  const ProtocolError& error() const noexcept { return error_; }

 private:
  Result fail(std::uint16_t code, std::string reason, std::size_t consumed);
  // Checks a data frame's header against the fragmentation rules and the maximum size.
  bool start_data_frame(const FrameHeader& h);
  Event finish_control(Opcode op);

  FrameParser parser_;
  std::size_t max_message_;
  bool failed_ = false;
  bool closed_ = false;
  // The previous call reported message_: clear it first. (A control frame's report leaves
  // it alone: it may have come between the fragments of the message being assembled.)
  bool message_reported_ = false;
  // A message has started and its final frame has not ended.
  bool in_message_ = false;
  Opcode message_type_ = Opcode::kBinary;
  std::string message_;
  Utf8Validator utf8_;
  std::array<std::byte, kMaxControlPayload> control_{};
  std::size_t control_size_ = 0;
  std::uint16_t close_code_ = kCloseNoStatus;
  ProtocolError error_;
};

}  // namespace weft::http::ws::detail
