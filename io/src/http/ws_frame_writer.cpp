// FrameWriter: WebSocket frames in wire form (ws_frame_writer.hpp).
#include "ws_frame_writer.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "ws_utf8.hpp"

namespace weft::http::ws::detail {

EncodedHeader encode_header(const FrameHeader& h) {
  if (is_control(h.opcode)) {
    if (!h.fin) throw std::invalid_argument("weft::http::ws: a control frame cannot be fragmented");
    if (h.length > kMaxControlPayload) {
      throw std::invalid_argument("weft::http::ws: a control frame's payload of " +
                                  std::to_string(h.length) + " bytes is over 125");
    }
  }
  if (h.length >> 63) {
    throw std::invalid_argument("weft::http::ws: a frame's payload length must be under 2^63");
  }
  EncodedHeader e;
  auto put = [&e](unsigned v) { e.bytes[e.size++] = static_cast<std::byte>(v & 0xFF); };
  put((h.fin ? 0x80u : 0u) | static_cast<unsigned>(h.opcode));
  const unsigned mask_bit = h.masked ? 0x80u : 0u;
  if (h.length < 126) {
    put(mask_bit | static_cast<unsigned>(h.length));
  } else if (h.length < 65536) {
    put(mask_bit | 126u);
    put(static_cast<unsigned>(h.length >> 8));
    put(static_cast<unsigned>(h.length));
  } else {
    put(mask_bit | 127u);
    for (int shift = 56; shift >= 0; shift -= 8) put(static_cast<unsigned>(h.length >> shift));
  }
  if (h.masked) {
    std::memcpy(e.bytes.data() + e.size, h.mask_key.data(), h.mask_key.size());
    e.size += h.mask_key.size();
    e.mask_key = h.mask_key;
  }
  return e;
}

EncodedHeader FrameWriter::header(Opcode op, std::uint64_t length, bool fin) {
  FrameHeader h{.opcode = op, .fin = fin, .masked = role_ == Role::kClient, .length = length};
  if (h.masked) h.mask_key = random_mask_key();
  return encode_header(h);
}

void FrameWriter::append_frame(std::vector<std::byte>& out, Opcode op,
                               std::span<const std::byte> payload, bool fin) {
  const EncodedHeader h = header(op, payload.size(), fin);
  out.insert(out.end(), h.bytes.begin(), h.bytes.begin() + h.size);
  const std::size_t at = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  if (role_ == Role::kClient)
    mask_bytes(out.data() + at, out.data() + at, payload.size(), h.mask_key, 0);
}

void FrameWriter::append_close(std::vector<std::byte>& out, std::uint16_t code,
                               std::string_view reason) {
  if (code == kCloseNoStatus) {
    if (!reason.empty()) {
      throw std::invalid_argument(
          "weft::http::ws: a close frame without a code (1005) cannot carry a reason");
    }
    append_frame(out, Opcode::kClose, {});
    return;
  }
  if (!close_code_valid_on_wire(code)) {
    throw std::invalid_argument("weft::http::ws: close code " + std::to_string(code) +
                                " cannot be sent in a close frame");
  }
  if (reason.size() > kMaxControlPayload - 2) {
    throw std::length_error("weft::http::ws: a close reason of " + std::to_string(reason.size()) +
                            " bytes is over 123");
  }
  if (!is_valid_utf8(reason)) {
    throw std::invalid_argument("weft::http::ws: a close reason must be valid UTF-8");
  }
  std::array<std::byte, kMaxControlPayload> payload;
  payload[0] = static_cast<std::byte>(code >> 8);
  payload[1] = static_cast<std::byte>(code & 0xFF);
  if (!reason.empty()) std::memcpy(payload.data() + 2, reason.data(), reason.size());
  append_frame(out, Opcode::kClose, std::span(payload).first(2 + reason.size()));
}

}  // namespace weft::http::ws::detail
