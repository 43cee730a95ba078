// FrameParser: WebSocket frames from a byte stream (ws_frame.hpp).
#include "ws_frame.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace weft::http::ws::detail {

namespace {

std::uint8_t u8(std::byte b) {
  return static_cast<std::uint8_t>(b);
}

bool opcode_defined(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

}  // namespace

FrameParser::Result FrameParser::fail(std::string reason, std::size_t consumed) {
  failed_ = true;
  error_ = {kCloseProtocolError, std::move(reason)};
  return {.status = Status::kError, .consumed = consumed};
}

std::string FrameParser::check_first_byte() const {
  const std::uint8_t b = u8(raw_[0]);
  if (b & 0x70) return "reserved bits RSV1-3 set, and no extension was negotiated";
  const std::uint8_t op = b & 0x0F;
  if (!opcode_defined(op)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "reserved opcode 0x%X", op);
    return buf;
  }
  if ((op & 0x8) && !(b & 0x80)) return "fragmented control frame";
  return {};
}

std::string FrameParser::check_second_byte() {
  const std::uint8_t b = u8(raw_[1]);
  const bool masked = (b & 0x80) != 0;
  if (role_ == Role::kServer && !masked) return "unmasked frame from a client";
  if (role_ == Role::kClient && masked) return "masked frame from a server";
  const std::uint8_t len7 = b & 0x7F;
  if ((u8(raw_[0]) & 0x08) && len7 > kMaxControlPayload) {
    return "control frame with a payload over 125 bytes";
  }
  need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
  return {};
}

std::string FrameParser::decode_rest() {
  const std::uint8_t b0 = u8(raw_[0]);
  const std::uint8_t b1 = u8(raw_[1]);
  header_.fin = (b0 & 0x80) != 0;
  header_.opcode = static_cast<Opcode>(b0 & 0x0F);
  header_.masked = (b1 & 0x80) != 0;
  std::size_t at = 2;
  const std::uint8_t len7 = b1 & 0x7F;
  if (len7 == 126) {
    header_.length = (std::uint64_t{u8(raw_[2])} << 8) | u8(raw_[3]);
    at = 4;
    if (header_.length < 126) return "16-bit payload length not in its shortest form";
  } else if (len7 == 127) {
    std::uint64_t len = 0;
    for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | u8(raw_[i]);
    at = 10;
    if (len >> 63) return "64-bit payload length with its most significant bit set";
    if (len < 65536) return "64-bit payload length not in its shortest form";
    header_.length = len;
  } else {
    header_.length = len7;
  }
  header_.mask_key = {};
  if (header_.masked) std::copy_n(raw_.begin() + at, 4, header_.mask_key.begin());
  return {};
}

FrameParser::Result FrameParser::parse(std::span<std::byte> input) {
  if (failed_) return {.status = Status::kError};
  std::size_t used = 0;
  bool start = false;
  if (!in_payload_) {
    while (have_ < need_) {
      if (used == input.size()) return {.status = Status::kNeedMore, .consumed = used};
      if (have_ >= 2) {
        // The extended length and the key: no check until they are all there.
        const std::size_t n = std::min<std::size_t>(need_ - have_, input.size() - used);
        std::memcpy(raw_.data() + have_, input.data() + used, n);
        have_ = static_cast<std::uint8_t>(have_ + n);
        used += n;
        continue;
      }
      raw_[have_++] = input[used++];
      std::string why = have_ == 1 ? check_first_byte() : check_second_byte();
      if (!why.empty()) return fail(std::move(why), used);
    }
    if (std::string why = decode_rest(); !why.empty()) return fail(std::move(why), used);
    have_ = 0;
    need_ = 2;
    in_payload_ = true;
    start = true;
    remaining_ = header_.length;
    offset_ = 0;
  }
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - used));
  if (n == 0 && !start) return {.status = Status::kNeedMore, .consumed = used};
  const std::span<std::byte> payload = input.subspan(used, n);
  if (header_.masked) mask_bytes(payload.data(), payload.data(), n, header_.mask_key, offset_);
  offset_ += n;
  remaining_ -= n;
  in_payload_ = remaining_ != 0;
  return {.status = Status::kChunk,
          .consumed = used + n,
          .payload = payload,
          .frame_start = start,
          .frame_end = remaining_ == 0};
}

}  // namespace weft::http::ws::detail
