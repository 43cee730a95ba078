// MessageAssembler: messages and control frames from WebSocket frames (ws_message.hpp).
#include "ws_message.hpp"

#include <cstring>
#include <stdexcept>

namespace weft::http::ws::detail {

MessageAssembler::MessageAssembler(Role role, std::size_t max_message)
    : parser_(role), max_message_(max_message) {
  if (max_message == 0) {
    throw std::invalid_argument("weft::http::ws: the maximum message size must be positive");
  }
}

std::string_view MessageAssembler::close_reason() const noexcept {
  if (control_size_ < 2) return {};
  return {reinterpret_cast<const char*>(control_.data()) + 2, control_size_ - 2};
}

MessageAssembler::Result MessageAssembler::fail(std::uint16_t code, std::string reason,
                                                std::size_t consumed) {
  failed_ = true;
  error_ = {code, std::move(reason)};
  return {Event::kError, consumed};
}

bool MessageAssembler::start_data_frame(const FrameHeader& h) {
  if (h.opcode == Opcode::kContinuation) {
    if (!in_message_) {
      error_ = {kCloseProtocolError, "continuation frame with no message in progress"};
      return false;
    }
  } else {
    if (in_message_) {
      error_ = {kCloseProtocolError, h.opcode == Opcode::kText
                                         ? "text frame inside a fragmented message"
                                         : "binary frame inside a fragmented message"};
      return false;
    }
    in_message_ = true;
    message_type_ = h.opcode;
    message_.clear();
    utf8_.reset();
  }
  if (h.length > max_message_ - message_.size()) {
    error_ = {kCloseMessageTooBig,
              "message over the maximum of " + std::to_string(max_message_) + " bytes"};
    return false;
  }
  return true;
}

MessageAssembler::Event MessageAssembler::finish_control(Opcode op) {
  if (op == Opcode::kPing) return Event::kPing;
  if (op == Opcode::kPong) return Event::kPong;
  closed_ = true;
  if (control_size_ == 0) {
    close_code_ = kCloseNoStatus;
    return Event::kClose;
  }
  if (control_size_ == 1) {
    error_ = {kCloseProtocolError, "close frame with a 1-byte payload"};
    return Event::kError;
  }
  close_code_ = static_cast<std::uint16_t>((static_cast<unsigned>(control_[0]) << 8) |
                                           static_cast<unsigned>(control_[1]));
  if (!close_code_valid_on_wire(close_code_)) {
    error_ = {kCloseProtocolError, "invalid close code " + std::to_string(close_code_)};
    return Event::kError;
  }
  if (!is_valid_utf8(close_reason())) {
    error_ = {kCloseInvalidPayload, "close reason is not valid UTF-8"};
    return Event::kError;
  }
  return Event::kClose;
}

MessageAssembler::Result MessageAssembler::next(std::span<std::byte> input) {
  if (failed_) return {Event::kError, 0};
  if (closed_) {
    if (input.empty()) return {Event::kNeedMore, 0};
    return fail(kCloseProtocolError, "data after a close frame", 0);
  }
  if (message_reported_) {
    message_reported_ = false;
    message_.clear();
  }
  std::size_t used = 0;
  for (;;) {
    const FrameParser::Result r = parser_.parse(input.subspan(used));
    used += r.consumed;
    if (r.status == FrameParser::Status::kNeedMore) return {Event::kNeedMore, used};
    if (r.status == FrameParser::Status::kError) {
      const ProtocolError& e = parser_.error();
      return fail(e.code, e.reason, used);
    }
    const FrameHeader& h = parser_.header();
    if (is_control(h.opcode)) {
      if (r.frame_start) control_size_ = 0;
      std::memcpy(control_.data() + control_size_, r.payload.data(), r.payload.size());
      control_size_ += r.payload.size();
      if (!r.frame_end) continue;
      const Event e = finish_control(h.opcode);
      if (e == Event::kError) {
        failed_ = true;
        return {Event::kError, used};
      }
      return {e, used};
    }
    if (r.frame_start && !start_data_frame(h)) {
      failed_ = true;
      return {Event::kError, used};
    }
    message_.append(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
    if (message_type_ == Opcode::kText && !utf8_.feed(r.payload)) {
      return fail(kCloseInvalidPayload, "text message is not valid UTF-8", used);
    }
    if (!r.frame_end || !h.fin) continue;
    in_message_ = false;
    if (message_type_ == Opcode::kText && !utf8_.complete()) {
      return fail(kCloseInvalidPayload, "text message ends inside a UTF-8 sequence", used);
    }
    message_reported_ = true;
    return {message_type_ == Opcode::kText ? Event::kText : Event::kBinary, used};
  }
}

}  // namespace weft::http::ws::detail
