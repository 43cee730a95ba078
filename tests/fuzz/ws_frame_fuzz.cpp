// libFuzzer target: the WebSocket codec's input side (io/src/http/ws_frame.hpp,
// ws_message.hpp), at a server's end and at a client's.
//
// The input's first byte chooses the maximum message size (low 3 bits) and the size of the
// pieces the bytes are fed in (the rest); the other bytes are what the peer sent. For each
// role the target checks that:
//   - MessageAssembler reports the same, message for message and error for error, whether
//     it gets the bytes at once or in pieces; it never takes more bytes than it was given,
//     and kNeedMore takes all of them;
//   - its reports are what a plain model of RFC 6455's rules predicts from the frames
//     (fragmentation, the maximum size checked at each header, UTF-8 checked by a decoder
//     written here independently of ws_utf8, close codes, nothing after a close), with the
//     close code of each error; control payloads fit 125 bytes, error reasons fit a close
//     frame;
//   - every whole frame FrameParser reads re-encodes (encode_header, the payload masked
//     again with its key) to the bytes it came from;
//   - what it reported, written back by the peer's FrameWriter, reads back the same.
// A broken check aborts with its text on stderr.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "http/ws_frame.hpp"
#include "http/ws_frame_writer.hpp"
#include "http/ws_message.hpp"

namespace {

using namespace weft::http::ws::detail;
using Event = MessageAssembler::Event;
using Bytes = std::vector<std::byte>;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "ws_frame_fuzz: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

constexpr std::size_t kMaxSizes[8] = {1, 2, 16, 125, 126, 1000, 65536, 1 << 20};

struct Report {
  Event event;
  std::string data;        // message, control payload or close reason; empty for an error
  std::uint16_t code = 0;  // close code, or the error's close code
  std::string reason{};    // an error's reason

  bool same_as_model(const Report& m) const {
    return event == m.event && data == m.data && code == m.code;
  }
  bool operator==(const Report&) const = default;
};

// --- The independent UTF-8 decoder ----------------------------------------------------------

enum class Utf8 { kValid, kIncomplete, kInvalid };

// Decodes code point by code point. A sequence cut off by the end of `s` is kIncomplete when
// some continuation would make it a valid code point, kInvalid otherwise.
Utf8 check_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return Utf8::kInvalid;
    }
    std::size_t have = 1;
    for (; have < len && i + have < s.size(); ++have) {
      const unsigned char d = static_cast<unsigned char>(s[i + have]);
      if ((d & 0xC0) != 0x80) return Utf8::kInvalid;
      cp = (cp << 6) | (d & 0x3F);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    // The code points this sequence can still become: [lo, hi].
    const unsigned missing_bits = 6 * static_cast<unsigned>(len - have);
    const std::uint32_t lo = cp << missing_bits;
    const std::uint32_t hi = lo | ((std::uint32_t{1} << missing_bits) - 1);
    const std::uint32_t from = std::max(lo, min);
    const std::uint32_t to = std::min<std::uint32_t>(hi, 0x10FFFF);
    if (from > to) return Utf8::kInvalid;                       // overlong or too large
    if (from >= 0xD800 && to <= 0xDFFF) return Utf8::kInvalid;  // surrogates only
    if (have < len) return Utf8::kIncomplete;
    i += len;
  }
  return Utf8::kValid;
}

// --- Feeding the assembler ------------------------------------------------------------------

std::vector<Report> feed(Role role, std::size_t max, Bytes wire, std::size_t piece) {
  MessageAssembler a(role, max);
  std::vector<Report> out;
  std::span<std::byte> rest(wire);
  std::size_t given = std::min(piece, rest.size());
  for (;;) {
    const auto r = a.next(rest.first(given));
    CHECK(r.consumed <= given);
    rest = rest.subspan(r.consumed);
    given -= r.consumed;
    switch (r.event) {
      case Event::kNeedMore:
        CHECK(given == 0);
        if (rest.empty()) return out;
        given = std::min(piece, rest.size());
        break;
      case Event::kText:
      case Event::kBinary:
        CHECK(a.message().size() <= max);
        out.push_back({r.event, std::string(a.message())});
        break;
      case Event::kPing:
      case Event::kPong: {
        const auto p = a.control_payload();
        CHECK(p.size() <= kMaxControlPayload);
        out.push_back({r.event, std::string(reinterpret_cast<const char*>(p.data()), p.size())});
        break;
      }
      case Event::kClose:
        out.push_back({r.event, std::string(a.close_reason()), a.close_code()});
        break;
      case Event::kError: {
        const ProtocolError& e = a.error();
        CHECK(e.code == kCloseProtocolError || e.code == kCloseInvalidPayload ||
              e.code == kCloseMessageTooBig);
        CHECK(!e.reason.empty() && e.reason.size() <= kMaxControlPayload - 2);
        for (char c : e.reason) CHECK(c >= 0x20 && c < 0x7F);
        // A failed assembler stays failed.
        CHECK(a.next(rest).event == Event::kError);
        out.push_back({r.event, {}, e.code, e.reason});
        return out;
      }
    }
  }
}

// --- Frames, for the model and the re-encoding check ---------------------------------------

struct Frame {
  FrameHeader header;
  std::string payload{};  // unmasked; partial when the input ends inside the frame
  bool whole = false;
  std::size_t end = 0;  // offset just past the frame, when whole
};

struct Frames {
  std::vector<Frame> frames;
  bool parse_error = false;
};

Frames read_frames(Role role, const Bytes& original) {
  Bytes wire = original;
  FrameParser p(role);
  Frames out;
  std::size_t at = 0;
  std::size_t frame_begin = 0;
  for (;;) {
    const auto r = p.parse(std::span(wire).subspan(at));
    if (r.status == FrameParser::Status::kError) {
      CHECK(p.error().code == kCloseProtocolError);
      out.parse_error = true;
      return out;
    }
    if (r.status == FrameParser::Status::kNeedMore) {
      CHECK(at + r.consumed == wire.size());
      return out;
    }
    if (r.frame_start) {
      frame_begin = at;
      out.frames.push_back({p.header()});
      const FrameHeader& h = p.header();
      CHECK(!is_control(h.opcode) || (h.fin && h.length <= kMaxControlPayload));
      CHECK(h.masked == (role == Role::kServer));
    }
    Frame& f = out.frames.back();
    f.payload.append(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
    at += r.consumed;
    if (r.frame_end) {
      f.whole = true;
      f.end = at;
      CHECK(f.payload.size() == f.header.length);
      // The frame re-encodes to the bytes it came from.
      const EncodedHeader e = encode_header(f.header);
      CHECK(frame_begin + e.size + f.payload.size() == at);
      CHECK(std::memcmp(e.bytes.data(), original.data() + frame_begin, e.size) == 0);
      Bytes masked(f.payload.size());
      const auto* src = reinterpret_cast<const std::byte*>(f.payload.data());
      if (f.header.masked) {
        mask_bytes(masked.data(), src, masked.size(), f.header.mask_key, 0);
      } else if (!masked.empty()) {
        std::memcpy(masked.data(), src, masked.size());
      }
      CHECK(masked.empty() ||
            std::memcmp(masked.data(), original.data() + frame_begin + e.size, masked.size()) == 0);
    }
  }
}

// --- The model ------------------------------------------------------------------------------

std::vector<Report> model(const Frames& in, std::size_t max, std::size_t wire_size) {
  std::vector<Report> out;
  auto error = [&out](std::uint16_t code) { out.push_back({Event::kError, {}, code}); };
  bool in_message = false;
  Opcode type = Opcode::kBinary;
  std::string message;
  for (const Frame& f : in.frames) {
    const FrameHeader& h = f.header;
    if (is_control(h.opcode)) {
      if (!f.whole) return out;
      if (h.opcode != Opcode::kClose) {
        out.push_back({h.opcode == Opcode::kPing ? Event::kPing : Event::kPong, f.payload});
        continue;
      }
      if (f.payload.size() == 1) return error(kCloseProtocolError), out;
      std::uint16_t code = kCloseNoStatus;
      std::string reason;
      if (f.payload.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(f.payload[0]) << 8) |
                                          static_cast<unsigned char>(f.payload[1]));
        reason = f.payload.substr(2);
        const bool known = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                           (code >= 3000 && code <= 4999);
        if (!known) return error(kCloseProtocolError), out;
        if (check_utf8(reason) != Utf8::kValid) return error(kCloseInvalidPayload), out;
      }
      out.push_back({Event::kClose, reason, code});
      if (f.end < wire_size) error(kCloseProtocolError);
      return out;
    }
    if (h.opcode == Opcode::kContinuation) {
      if (!in_message) return error(kCloseProtocolError), out;
    } else {
      if (in_message) return error(kCloseProtocolError), out;
      in_message = true;
      type = h.opcode;
      message.clear();
    }
    if (message.size() + h.length > max) return error(kCloseMessageTooBig), out;
    message += f.payload;
    const Utf8 u = type == Opcode::kText ? check_utf8(message) : Utf8::kValid;
    if (u == Utf8::kInvalid) return error(kCloseInvalidPayload), out;
    if (!f.whole) return out;
    if (!h.fin) continue;
    in_message = false;
    if (u == Utf8::kIncomplete) return error(kCloseInvalidPayload), out;
    out.push_back({type == Opcode::kText ? Event::kText : Event::kBinary, message});
  }
  if (in.parse_error) error(kCloseProtocolError);
  return out;
}

// --- Writing the reports back ---------------------------------------------------------------

void check_written_back(Role role, std::size_t max, const std::vector<Report>& reports) {
  FrameWriter peer(role == Role::kServer ? Role::kClient : Role::kServer);
  Bytes wire;
  std::vector<Report> expected;
  for (const Report& r : reports) {
    const auto data = std::as_bytes(std::span(r.data));
    switch (r.event) {
      case Event::kText:
        peer.append_frame(wire, Opcode::kText, data);
        break;
      case Event::kBinary:
        peer.append_frame(wire, Opcode::kBinary, data);
        break;
      case Event::kPing:
        peer.append_frame(wire, Opcode::kPing, data);
        break;
      case Event::kPong:
        peer.append_frame(wire, Opcode::kPong, data);
        break;
      case Event::kClose:
        peer.append_close(wire, r.code, r.data);
        break;
      default:
        continue;
    }
    expected.push_back(r);
  }
  CHECK(feed(role, max, std::move(wire), SIZE_MAX) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max = kMaxSizes[data[0] & 7];
  const std::size_t piece = (data[0] >> 3) + 1;
  const auto* first = reinterpret_cast<const std::byte*>(data + 1);
  const Bytes wire(first, first + size - 1);
  for (Role role : {Role::kServer, Role::kClient}) {
    const auto whole = feed(role, max, wire, SIZE_MAX);
    CHECK(feed(role, max, wire, piece) == whole);
    const auto predicted = model(read_frames(role, wire), max, wire.size());
    CHECK(predicted.size() == whole.size());
    for (std::size_t i = 0; i < whole.size(); ++i) CHECK(whole[i].same_as_model(predicted[i]));
    check_written_back(role, max, whole);
  }
  return 0;
}
