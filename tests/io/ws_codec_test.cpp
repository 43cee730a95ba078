// The WebSocket codec (io/src/http/ws_*): RFC 6455's example frames (§5.7) and accept key
// (§1.3), every rule the parser and the assembler enforce with the close code it fails the
// connection with, the same reports however the bytes are split, UTF-8 validated across
// fragments, masking, the frame writer's output and refusals, and the handshake helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/ws_frame.hpp"
#include "http/ws_frame_writer.hpp"
#include "http/ws_handshake.hpp"
#include "http/ws_mask.hpp"
#include "http/ws_message.hpp"
#include "http/ws_utf8.hpp"

using namespace weft::http::ws::detail;
using Event = MessageAssembler::Event;

namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes(std::initializer_list<unsigned> v) {
  Bytes out;
  for (unsigned b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

Bytes bytes(std::string_view s) {
  const auto b = std::as_bytes(std::span(s));
  return {b.begin(), b.end()};
}

std::string text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// A frame as a peer of `to` sends it: masked with a fixed key when it goes to a server.
Bytes frame(Role to, Opcode op, std::string_view payload, bool fin = true,
            MaskKey key = {std::byte{0x37}, std::byte{0xfa}, std::byte{0x21}, std::byte{0x3d}}) {
  FrameHeader h{.opcode = op, .fin = fin, .masked = to == Role::kServer, .length = payload.size()};
  if (h.masked) h.mask_key = key;
  const EncodedHeader e = encode_header(h);
  Bytes out(e.bytes.begin(), e.bytes.begin() + e.size);
  const std::size_t at = out.size();
  const Bytes p = bytes(payload);
  out.insert(out.end(), p.begin(), p.end());
  if (h.masked) mask_bytes(out.data() + at, out.data() + at, p.size(), key, 0);
  return out;
}

/// One report of the assembler, with what it carries.
struct Report {
  Event event;
  std::string data;        // the message, the control payload, the close reason or the error reason
  std::uint16_t code = 0;  // the close code or the error's close code

  bool operator==(const Report&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Report& r) {
  return os << "{event " << static_cast<int>(r.event) << ", code " << r.code << ", \"" << r.data
            << "\"}";
}

/// Every report for `wire`, fed `chunk` bytes at a time (0: all at once), up to the first
/// error or the end of the input.
std::vector<Report> feed(Role role, Bytes wire, std::size_t chunk = 0,
                         std::size_t max_message = 1 << 20) {
  MessageAssembler a(role, max_message);
  std::vector<Report> out;
  std::span<std::byte> rest(wire);
  std::size_t given = chunk == 0 ? rest.size() : std::min(chunk, rest.size());
  for (;;) {
    const auto r = a.next(rest.first(given));
    EXPECT_LE(r.consumed, given);
    rest = rest.subspan(r.consumed);
    given -= r.consumed;
    switch (r.event) {
      case Event::kNeedMore:
        EXPECT_EQ(given, 0u);
        if (rest.empty()) return out;
        given = chunk == 0 ? rest.size() : std::min(chunk, rest.size());
        continue;
      case Event::kText:
      case Event::kBinary:
        out.push_back({r.event, std::string(a.message())});
        break;
      case Event::kPing:
      case Event::kPong:
        out.push_back({r.event, text(a.control_payload())});
        break;
      case Event::kClose:
        out.push_back({r.event, std::string(a.close_reason()), a.close_code()});
        break;
      case Event::kError:
        out.push_back({r.event, a.error().reason, a.error().code});
        return out;
    }
  }
}

/// The one error that `wire` fails with.
ProtocolError error_of(Role role, Bytes wire, std::size_t max_message = 1 << 20) {
  const auto reports = feed(role, std::move(wire), 0, max_message);
  if (reports.empty() || reports.back().event != Event::kError) {
    ADD_FAILURE() << "no error";
    return {};
  }
  return {reports.back().code, reports.back().data};
}

}  // namespace

// --- RFC 6455 §5.7's examples -----------------------------------------------------------

TEST(WsRfcExamples, SingleFrameUnmaskedTextReachesAClient) {
  const Bytes wire = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  EXPECT_EQ(feed(Role::kClient, wire), (std::vector<Report>{{Event::kText, "Hello"}}));
}

TEST(WsRfcExamples, SingleFrameMaskedTextReachesAServer) {
  const Bytes wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(feed(Role::kServer, wire), (std::vector<Report>{{Event::kText, "Hello"}}));
}

TEST(WsRfcExamples, FragmentedUnmaskedTextIsOneMessage) {
  const Bytes wire = bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  EXPECT_EQ(feed(Role::kClient, wire), (std::vector<Report>{{Event::kText, "Hello"}}));
}

TEST(WsRfcExamples, UnmaskedPingAndMaskedPongCarryTheirPayload) {
  EXPECT_EQ(feed(Role::kClient, bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})),
            (std::vector<Report>{{Event::kPing, "Hello"}}));
  EXPECT_EQ(feed(Role::kServer,
                 bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})),
            (std::vector<Report>{{Event::kPong, "Hello"}}));
}

TEST(WsRfcExamples, BinaryWith16BitAnd64BitLengthsIsWholeMessages) {
  std::string p256(256, '\0');
  for (std::size_t i = 0; i < p256.size(); ++i) p256[i] = static_cast<char>(i);
  const std::string p64k(65536, 'x');
  const Bytes wire = cat({bytes({0x82, 0x7E, 0x01, 0x00}), bytes(p256),
                          bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}), bytes(p64k)});
  EXPECT_EQ(feed(Role::kClient, wire),
            (std::vector<Report>{{Event::kBinary, p256}, {Event::kBinary, p64k}}));
}

TEST(WsRfcExamples, WriterProducesTheExampleFramesExactly) {
  FrameWriter server(Role::kServer);
  Bytes out;
  server.append_frame(out, Opcode::kText, bytes("Hel"), false);
  server.append_frame(out, Opcode::kContinuation, bytes("lo"));
  server.append_frame(out, Opcode::kPing, bytes("Hello"));
  EXPECT_EQ(out, cat({bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}),
                      bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})}));
  EXPECT_EQ(frame(Role::kServer, Opcode::kText, "Hello"),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  const EncodedHeader h16 = server.header(Opcode::kBinary, 256);
  EXPECT_EQ(Bytes(h16.view().begin(), h16.view().end()), bytes({0x82, 0x7E, 0x01, 0x00}));
  const EncodedHeader h64 = server.header(Opcode::kBinary, 65536);
  EXPECT_EQ(Bytes(h64.view().begin(), h64.view().end()),
            bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
}

TEST(WsRfcExamples, AcceptKeyOfTheSampleNonce) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// --- FrameParser ------------------------------------------------------------------------

TEST(WsFrameParser, ReportsTheHeaderBeforeAnyPayloadArrives) {
  FrameParser p(Role::kClient);
  Bytes wire = bytes({0x82, 0x7E, 0x10, 0x00});
  auto r = p.parse(wire);
  ASSERT_EQ(r.status, FrameParser::Status::kChunk);
  EXPECT_TRUE(r.frame_start);
  EXPECT_FALSE(r.frame_end);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_EQ(p.header().opcode, Opcode::kBinary);
  EXPECT_EQ(p.header().length, 4096u);
  EXPECT_TRUE(p.header().fin);
  Bytes rest(4096, std::byte{7});
  r = p.parse(std::span(rest).first(1000));
  ASSERT_EQ(r.status, FrameParser::Status::kChunk);
  EXPECT_FALSE(r.frame_start);
  EXPECT_FALSE(r.frame_end);
  EXPECT_EQ(r.payload.size(), 1000u);
  r = p.parse(std::span(rest).subspan(1000));
  EXPECT_TRUE(r.frame_end);
  EXPECT_EQ(r.payload.size(), 3096u);
}

TEST(WsFrameParser, StopsAtTheFrameEndAndLeavesTheNextFrameInTheInput) {
  FrameParser p(Role::kClient);
  Bytes wire = cat(
      {frame(Role::kClient, Opcode::kBinary, "ab"), frame(Role::kClient, Opcode::kBinary, "cd")});
  auto r = p.parse(wire);
  ASSERT_EQ(r.status, FrameParser::Status::kChunk);
  EXPECT_TRUE(r.frame_start && r.frame_end);
  EXPECT_EQ(text(r.payload), "ab");
  EXPECT_EQ(r.consumed, 4u);
  r = p.parse(std::span(wire).subspan(4));
  EXPECT_EQ(text(r.payload), "cd");
  EXPECT_EQ(p.parse({}).status, FrameParser::Status::kNeedMore);
}

TEST(WsFrameParser, AnEmptyFrameIsOneChunkThatStartsAndEnds) {
  FrameParser p(Role::kServer);
  Bytes wire = frame(Role::kServer, Opcode::kText, "");
  const auto r = p.parse(wire);
  ASSERT_EQ(r.status, FrameParser::Status::kChunk);
  EXPECT_TRUE(r.frame_start && r.frame_end);
  EXPECT_EQ(r.consumed, 6u);
}

TEST(WsFrameParser, UnmasksInPlaceAcrossSplitsAtEveryOffset) {
  const std::string payload = "The quick brown fox jumps over the lazy dog, twice over.";
  const Bytes wire = frame(Role::kServer, Opcode::kBinary, payload);
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    Bytes copy = wire;
    FrameParser p(Role::kServer);
    std::string got;
    std::span<std::byte> rest(copy);
    for (std::span<std::byte> part : {rest.first(split), rest.subspan(split)}) {
      while (true) {
        const auto r = p.parse(part);
        ASSERT_NE(r.status, FrameParser::Status::kError);
        if (r.status == FrameParser::Status::kNeedMore) break;
        got += text(r.payload);
        part = part.subspan(r.consumed);
      }
    }
    EXPECT_EQ(got, payload) << "split at " << split;
  }
}

TEST(WsFrameParser, AFailedParserStaysFailed) {
  FrameParser p(Role::kServer);
  Bytes bad = bytes({0x81, 0x05});
  EXPECT_EQ(p.parse(bad).status, FrameParser::Status::kError);
  Bytes good = frame(Role::kServer, Opcode::kText, "x");
  EXPECT_EQ(p.parse(good).status, FrameParser::Status::kError);
  EXPECT_EQ(p.error().code, kCloseProtocolError);
}

// --- Rejections, each with its close code -------------------------------------------------

TEST(WsRejections, ReservedBitsAreAProtocolError) {
  for (unsigned rsv : {0x40u, 0x20u, 0x10u}) {
    Bytes wire = frame(Role::kClient, Opcode::kText, "x");
    wire[0] |= static_cast<std::byte>(rsv);
    const auto e = error_of(Role::kClient, wire);
    EXPECT_EQ(e.code, 1002);
    EXPECT_NE(e.reason.find("RSV"), std::string::npos) << e.reason;
  }
}

TEST(WsRejections, ReservedOpcodesAreAProtocolErrorNamingTheOpcode) {
  for (unsigned op : {0x3u, 0x4u, 0x5u, 0x6u, 0x7u, 0xBu, 0xCu, 0xDu, 0xEu, 0xFu}) {
    const auto e = error_of(Role::kClient, bytes({0x80 | op, 0x00}));
    EXPECT_EQ(e.code, 1002);
    char want[32];
    std::snprintf(want, sizeof want, "reserved opcode 0x%X", op);
    EXPECT_EQ(e.reason, want);
  }
}

TEST(WsRejections, FragmentedControlFramesAreAProtocolError) {
  for (Opcode op : {Opcode::kPing, Opcode::kPong, Opcode::kClose}) {
    const auto e = error_of(Role::kClient, bytes({static_cast<unsigned>(op), 0x00}));  // FIN clear
    EXPECT_EQ(e.code, 1002);
    EXPECT_EQ(e.reason, "fragmented control frame");
  }
}

TEST(WsRejections, ControlFramesOver125BytesAreAProtocolError) {
  const auto e = error_of(Role::kClient, cat({bytes({0x89, 0x7E, 0x00, 0x7E}), Bytes(126)}));
  EXPECT_EQ(e.code, 1002);
  EXPECT_NE(e.reason.find("over 125"), std::string::npos) << e.reason;
  EXPECT_EQ(feed(Role::kClient, cat({bytes({0x89, 0x7D}), Bytes(125, std::byte{'a'})})),
            (std::vector<Report>{{Event::kPing, std::string(125, 'a')}}));
}

TEST(WsRejections, AServerRefusesUnmaskedFramesAndAClientMaskedOnes) {
  auto e = error_of(Role::kServer, frame(Role::kClient, Opcode::kText, "hi"));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "unmasked frame from a client");
  e = error_of(Role::kClient, frame(Role::kServer, Opcode::kText, "hi"));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "masked frame from a server");
}

TEST(WsRejections, LengthsNotInTheirShortestFormAreAProtocolError) {
  auto e = error_of(Role::kClient, cat({bytes({0x82, 0x7E, 0x00, 0x7D}), Bytes(125)}));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "16-bit payload length not in its shortest form");
  e = error_of(Role::kClient,
               cat({bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), Bytes(65535)}));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "64-bit payload length not in its shortest form");
  // The shortest forms at the boundaries are fine.
  EXPECT_EQ(feed(Role::kClient, cat({bytes({0x82, 0x7E, 0x00, 0x7E}), Bytes(126)})).size(), 1u);
}

TEST(WsRejections, A64BitLengthWithItsTopBitSetIsAProtocolError) {
  const auto e = error_of(Role::kClient, bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}), SIZE_MAX);
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "64-bit payload length with its most significant bit set");
}

TEST(WsRejections, AContinuationWithNoMessageIsAProtocolError) {
  const auto e = error_of(Role::kServer, frame(Role::kServer, Opcode::kContinuation, "x"));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "continuation frame with no message in progress");
}

TEST(WsRejections, ANewMessageInsideAFragmentedOneIsAProtocolError) {
  for (Opcode op : {Opcode::kText, Opcode::kBinary}) {
    const auto reports =
        feed(Role::kServer,
             cat({frame(Role::kServer, Opcode::kText, "a", false), frame(Role::kServer, op, "b")}));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].code, 1002);
    EXPECT_NE(reports[0].data.find("inside a fragmented message"), std::string::npos);
  }
}

TEST(WsRejections, AFrameOverTheMaximumFailsWith1009BeforeItsPayloadArrives) {
  MessageAssembler a(Role::kClient, 100);
  Bytes header = bytes({0x82, 0x65});  // 101 bytes announced, none sent
  const auto r = a.next(header);
  EXPECT_EQ(r.event, Event::kError);
  EXPECT_EQ(a.error().code, 1009);
  EXPECT_EQ(a.error().reason, "message over the maximum of 100 bytes");
  EXPECT_TRUE(a.message().empty());
}

TEST(WsRejections, FragmentsAddingUpOverTheMaximumFailWith1009) {
  const Bytes wire = cat({frame(Role::kClient, Opcode::kBinary, std::string(60, 'a'), false),
                          frame(Role::kClient, Opcode::kPing, "p"),
                          frame(Role::kClient, Opcode::kContinuation, std::string(41, 'b'))});
  const auto reports = feed(Role::kClient, wire, 0, 100);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0], (Report{Event::kPing, "p"}));
  EXPECT_EQ(reports[1].code, 1009);
  // Exactly the maximum is accepted.
  const Bytes fits = cat({frame(Role::kClient, Opcode::kBinary, std::string(60, 'a'), false),
                          frame(Role::kClient, Opcode::kContinuation, std::string(40, 'b'))});
  EXPECT_EQ(feed(Role::kClient, fits, 0, 100),
            (std::vector<Report>{{Event::kBinary, std::string(60, 'a') + std::string(40, 'b')}}));
}

TEST(WsRejections, InvalidUtf8TextFailsWith1007) {
  auto e = error_of(Role::kClient, frame(Role::kClient, Opcode::kText, "ok \xC3\x28"));
  EXPECT_EQ(e.code, 1007);
  EXPECT_EQ(e.reason, "text message is not valid UTF-8");
  e = error_of(Role::kClient, frame(Role::kClient, Opcode::kText, "cut \xE2\x82"));
  EXPECT_EQ(e.code, 1007);
  EXPECT_EQ(e.reason, "text message ends inside a UTF-8 sequence");
  // Binary messages carry any bytes.
  EXPECT_EQ(feed(Role::kClient, frame(Role::kClient, Opcode::kBinary, "\xC3\x28")).size(), 1u);
}

TEST(WsRejections, InvalidUtf8FailsAtTheFirstBadFragmentNotAtTheMessageEnd) {
  MessageAssembler a(Role::kClient, 1 << 20);
  Bytes first = frame(Role::kClient, Opcode::kText, "fine, then \xFF", false);
  EXPECT_EQ(a.next(first).event, Event::kError);
  EXPECT_EQ(a.error().code, 1007);
}

TEST(WsRejections, CloseFrameOfOneByteIsAProtocolError) {
  const auto e = error_of(Role::kClient, bytes({0x88, 0x01, 0x03}));
  EXPECT_EQ(e.code, 1002);
  EXPECT_EQ(e.reason, "close frame with a 1-byte payload");
}

TEST(WsRejections, CloseCodesInvalidOnTheWireAreAProtocolError) {
  for (unsigned code :
       {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u, 5000u, 65535u}) {
    const std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    const auto e = error_of(Role::kClient, frame(Role::kClient, Opcode::kClose, payload));
    EXPECT_EQ(e.code, 1002) << code;
    EXPECT_EQ(e.reason, "invalid close code " + std::to_string(code));
  }
}

TEST(WsRejections, CloseReasonThatIsNotUtf8Fails1007) {
  const auto e =
      error_of(Role::kClient, frame(Role::kClient, Opcode::kClose, "\x03\xE8\xED\xA0\x80"));
  EXPECT_EQ(e.code, 1007);
  EXPECT_EQ(e.reason, "close reason is not valid UTF-8");
}

TEST(WsRejections, BytesAfterACloseFrameAreAProtocolError) {
  const auto reports = feed(Role::kClient, cat({frame(Role::kClient, Opcode::kClose, "\x03\xE8"),
                                                frame(Role::kClient, Opcode::kText, "late")}));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0], (Report{Event::kClose, "", 1000}));
  EXPECT_EQ(reports[1], (Report{Event::kError, "data after a close frame", 1002}));
}

TEST(WsRejections, AFailedAssemblerStaysFailed) {
  MessageAssembler a(Role::kServer, 100);
  Bytes bad = frame(Role::kClient, Opcode::kText, "x");
  EXPECT_EQ(a.next(bad).event, Event::kError);
  Bytes good = frame(Role::kServer, Opcode::kText, "x");
  EXPECT_EQ(a.next(good).event, Event::kError);
  EXPECT_EQ(a.error().reason, "unmasked frame from a client");
}

// --- MessageAssembler ---------------------------------------------------------------------

TEST(WsMessageAssembler, ValidCloseCodesAreReportedWithTheirReason) {
  for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1013u,
                        1014u, 3000u, 3999u, 4000u, 4999u}) {
    const std::string payload =
        std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)} +
        "bye \xE2\x9C\x93";
    EXPECT_EQ(feed(Role::kServer, frame(Role::kServer, Opcode::kClose, payload)),
              (std::vector<Report>{
                  {Event::kClose, "bye \xE2\x9C\x93", static_cast<std::uint16_t>(code)}}));
  }
}

TEST(WsMessageAssembler, AnEmptyCloseFrameReportsNoStatus1005) {
  EXPECT_EQ(feed(Role::kServer, frame(Role::kServer, Opcode::kClose, "")),
            (std::vector<Report>{{Event::kClose, "", 1005}}));
}

TEST(WsMessageAssembler, ControlFramesBetweenFragmentsComeFirstAndKeepTheMessage) {
  const Bytes wire = cat({frame(Role::kServer, Opcode::kText, "one ", false),
                          frame(Role::kServer, Opcode::kPing, "p1"),
                          frame(Role::kServer, Opcode::kContinuation, "two ", false),
                          frame(Role::kServer, Opcode::kPong, "p2"),
                          frame(Role::kServer, Opcode::kContinuation, "three"),
                          frame(Role::kServer, Opcode::kBinary, "next")});
  EXPECT_EQ(feed(Role::kServer, wire), (std::vector<Report>{{Event::kPing, "p1"},
                                                            {Event::kPong, "p2"},
                                                            {Event::kText, "one two three"},
                                                            {Event::kBinary, "next"}}));
}

TEST(WsMessageAssembler, TakeMessageMovesItOutAndTheNextMessageStartsEmpty) {
  MessageAssembler a(Role::kServer, 1 << 20);
  Bytes wire = cat({frame(Role::kServer, Opcode::kBinary, "first"),
                    frame(Role::kServer, Opcode::kText, "second")});
  auto r = a.next(wire);
  ASSERT_EQ(r.event, Event::kBinary);
  EXPECT_EQ(a.take_message(), "first");
  r = a.next(std::span(wire).subspan(r.consumed));
  ASSERT_EQ(r.event, Event::kText);
  EXPECT_EQ(a.message(), "second");
}

TEST(WsMessageAssembler, AZeroMaximumIsRefused) {
  EXPECT_THROW(MessageAssembler(Role::kServer, 0), std::invalid_argument);
}

// --- Splitting the input ------------------------------------------------------------------

TEST(WsSplitInput, EveryChunkSizeGivesTheSameReportsAsTheWholeInput) {
  const std::vector<Bytes> streams = {
      cat({frame(Role::kServer, Opcode::kText, "héllo ", false),
           frame(Role::kServer, Opcode::kPing, "are you there"),
           frame(Role::kServer, Opcode::kContinuation, "wörld \xF0\x9F\x98\x80"),
           frame(Role::kServer, Opcode::kBinary, std::string(300, 'b')),
           frame(Role::kServer, Opcode::kBinary, std::string(70000, 'c')),
           frame(Role::kServer, Opcode::kPong, ""),
           frame(Role::kServer, Opcode::kClose, "\x0f\xa0going")}),
      // Each failure, after some good frames.
      cat({frame(Role::kServer, Opcode::kText, "ok"),
           frame(Role::kServer, Opcode::kText, "a\xC0\xAF")}),
      cat({frame(Role::kServer, Opcode::kText, "ok"), frame(Role::kClient, Opcode::kText, "x")}),
      cat({frame(Role::kServer, Opcode::kText, "ok"), bytes({0xC1, 0x80})}),
      cat({frame(Role::kServer, Opcode::kText, "ok", false),
           frame(Role::kServer, Opcode::kText, "x")}),
      bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0x03, 0x0D, 0x40, 1, 2, 3, 4}),  // 200000 bytes
      cat({frame(Role::kServer, Opcode::kClose, "\x03\xEE")}),
      cat({frame(Role::kServer, Opcode::kClose, "\x03\xE8\xFF")}),
      bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 1, 2, 3, 4}),  // not the shortest form
  };
  for (std::size_t s = 0; s < streams.size(); ++s) {
    const auto whole = feed(Role::kServer, streams[s], 0, 1024 * 100);
    ASSERT_FALSE(whole.empty()) << "stream " << s;
    EXPECT_EQ(whole.back().event, s == 0 ? Event::kClose : Event::kError) << "stream " << s;
    for (std::size_t chunk : {1, 2, 3, 5, 7, 13, 64, 1000}) {
      EXPECT_EQ(feed(Role::kServer, streams[s], chunk, 1024 * 100), whole)
          << "stream " << s << ", chunks of " << chunk;
    }
  }
}

// --- UTF-8 ----------------------------------------------------------------------------------

TEST(WsUtf8, TextSplitIntoTwoFragmentsAtEveryPositionIsAccepted) {
  const std::string msg = "a\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF z";
  for (std::size_t at = 0; at <= msg.size(); ++at) {
    const Bytes wire = cat({frame(Role::kServer, Opcode::kText, msg.substr(0, at), false),
                            frame(Role::kServer, Opcode::kContinuation, msg.substr(at))});
    EXPECT_EQ(feed(Role::kServer, wire), (std::vector<Report>{{Event::kText, msg}}))
        << "split at " << at;
  }
}

TEST(WsUtf8, TextInOneByteFragmentsIsAccepted) {
  const std::string msg = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  Bytes wire;
  for (std::size_t i = 0; i < msg.size(); ++i) {
    const Bytes f = frame(Role::kClient, i == 0 ? Opcode::kText : Opcode::kContinuation,
                          msg.substr(i, 1), i + 1 == msg.size());
    wire.insert(wire.end(), f.begin(), f.end());
  }
  EXPECT_EQ(feed(Role::kClient, wire), (std::vector<Report>{{Event::kText, msg}}));
}

TEST(WsUtf8, InvalidSequencesAreRejectedWhereverTheFragmentsSplitThem) {
  const std::vector<std::string> invalid = {
      "\xC0\x80",                  // overlong U+0000
      "\xC1\xBF",                  // overlong U+007F
      "\xE0\x80\x80",              // overlong U+0000, three bytes
      "\xE0\x9F\xBF",              // overlong U+07FF
      "\xF0\x80\x80\x80",          // overlong U+0000, four bytes
      "\xF0\x8F\xBF\xBF",          // overlong U+FFFF
      "\xED\xA0\x80",              // U+D800, a surrogate
      "\xED\xBF\xBF",              // U+DFFF, a surrogate
      "\xED\xA0\x80\xED\xB0\x80",  // a surrogate pair encoded as two code points (CESU-8)
      "\xF4\x90\x80\x80",          // U+110000
      "\xF5\x80\x80\x80",          // beyond U+10FFFF
      "\xF7\xBF\xBF\xBF",          // beyond U+10FFFF
      "\xFE",
      "\xFF",          // never in UTF-8
      "\x80",          // a lone continuation byte
      "\xC3\x28",      // a lead byte followed by ASCII
      "\xE2\x82\x28",  // a three-byte sequence cut by ASCII
      "\xE2\x82",      // ends inside a sequence
  };
  for (const std::string& bad : invalid) {
    EXPECT_FALSE(is_valid_utf8(bad)) << testing::PrintToString(bad);
    const std::string msg = "ab" + bad + "cd";
    for (std::size_t at = 0; at <= msg.size(); ++at) {
      const Bytes wire = cat({frame(Role::kServer, Opcode::kText, msg.substr(0, at), false),
                              frame(Role::kServer, Opcode::kContinuation, msg.substr(at))});
      const auto reports = feed(Role::kServer, wire);
      ASSERT_EQ(reports.size(), 1u);
      EXPECT_EQ(reports[0].code, 1007) << testing::PrintToString(bad) << " split at " << at;
    }
  }
}

TEST(WsUtf8, TheBoundariesOfEachRangeAreAccepted) {
  for (const std::string& good :
       {std::string("\x00", 1), std::string("\x7F"), std::string("\xC2\x80"),
        std::string("\xDF\xBF"), std::string("\xE0\xA0\x80"), std::string("\xED\x9F\xBF"),
        std::string("\xEE\x80\x80"), std::string("\xEF\xBF\xBF"), std::string("\xF0\x90\x80\x80"),
        std::string("\xF4\x8F\xBF\xBF"), std::string("plain ASCII, longer than one word")}) {
    EXPECT_TRUE(is_valid_utf8(good)) << testing::PrintToString(good);
  }
}

TEST(WsUtf8, TheValidatorCarriesAnUnfinishedSequenceAcrossCalls) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed(bytes("\xF0\x9F")));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed(bytes("\x98")));
  EXPECT_TRUE(v.feed(bytes("\x80")));
  EXPECT_TRUE(v.complete());
  EXPECT_FALSE(v.feed(bytes("\x80")));
  EXPECT_FALSE(v.feed(bytes("ok")));  // sticky
  v.reset();
  EXPECT_TRUE(v.feed(bytes("ok")));
}

// --- Masking --------------------------------------------------------------------------------

TEST(WsMask, MatchesTheBytewiseDefinitionAtEveryOffsetAndLength) {
  const MaskKey key = {std::byte{0x12}, std::byte{0x34}, std::byte{0x56}, std::byte{0x78}};
  Bytes src(100);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 7 + 1);
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n = 0; n <= 70; ++n) {
      Bytes want(n), copy(n), in_place(src.begin(), src.begin() + n);
      for (std::size_t i = 0; i < n; ++i) want[i] = src[i] ^ key[(offset + i) % 4];
      mask_bytes(copy.data(), src.data(), n, key, offset);
      mask_bytes(in_place.data(), in_place.data(), n, key, offset);
      EXPECT_EQ(copy, want) << "offset " << offset << ", length " << n;
      EXPECT_EQ(in_place, want) << "offset " << offset << ", length " << n;
    }
  }
}

TEST(WsMask, RandomKeysDiffer) {
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 64; ++i) {
    const MaskKey k = random_mask_key();
    std::uint32_t v;
    std::memcpy(&v, k.data(), 4);
    seen.insert(v);
  }
  // 64 draws of 32 random bits collide with a chance below one in a million.
  EXPECT_GE(seen.size(), 63u);
}

// --- FrameWriter ----------------------------------------------------------------------------

TEST(WsFrameWriter, AClientsFramesAreMaskedWithAFreshKeyAndReadBackByAServer) {
  FrameWriter client(Role::kClient);
  Bytes out;
  const std::string big(70000, 'z');
  client.append_frame(out, Opcode::kText, bytes("hello"));
  client.append_frame(out, Opcode::kBinary, bytes(big));
  client.append_close(out, 1001, "going away");
  EXPECT_EQ(static_cast<unsigned>(out[1]) & 0x80, 0x80u);
  EXPECT_EQ(
      feed(Role::kServer, out, 0, 1 << 20),
      (std::vector<Report>{
          {Event::kText, "hello"}, {Event::kBinary, big}, {Event::kClose, "going away", 1001}}));
  const EncodedHeader a = client.header(Opcode::kText, 5);
  const EncodedHeader b = client.header(Opcode::kText, 5);
  EXPECT_EQ(a.size, 6u);
  EXPECT_TRUE(std::equal(a.mask_key.begin(), a.mask_key.end(), a.bytes.begin() + 2));
  EXPECT_NE(a.mask_key, b.mask_key);  // equal by chance once in 2^32
}

TEST(WsFrameWriter, AServersHeaderLeavesThePayloadToBeWrittenAsIs) {
  FrameWriter server(Role::kServer);
  const EncodedHeader h = server.header(Opcode::kBinary, 3, false);
  EXPECT_EQ(Bytes(h.view().begin(), h.view().end()), bytes({0x02, 0x03}));
}

TEST(WsFrameWriter, CloseFramesCarryTheCodeAndReasonOrNothingFor1005) {
  FrameWriter server(Role::kServer);
  Bytes out;
  server.append_close(out, 1000, "done");
  EXPECT_EQ(out, cat({bytes({0x88, 0x06, 0x03, 0xE8}), bytes("done")}));
  out.clear();
  server.append_close(out, kCloseNoStatus, "");
  EXPECT_EQ(out, bytes({0x88, 0x00}));
  out.clear();
  const std::string longest(123, 'r');
  server.append_close(out, 4000, longest);
  EXPECT_EQ(out.size(), 2u + 125u);
}

TEST(WsFrameWriter, RefusesCloseFramesThePeerWouldRefuse) {
  FrameWriter server(Role::kServer);
  Bytes out;
  try {
    server.append_close(out, 1000, std::string(124, 'r'));
    ADD_FAILURE() << "no exception";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("124 bytes is over 123"), std::string::npos) << e.what();
  }
  for (unsigned code : {999u, 1004u, 1006u, 1015u, 2000u, 5000u}) {
    try {
      server.append_close(out, static_cast<std::uint16_t>(code), "");
      ADD_FAILURE() << "no exception for " << code;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("close code " + std::to_string(code)), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(server.append_close(out, 1000, "\xC3"), std::invalid_argument);
  EXPECT_THROW(server.append_close(out, kCloseNoStatus, "why"), std::invalid_argument);
  EXPECT_TRUE(out.empty());
}

TEST(WsFrameWriter, RefusesControlFramesOver125BytesOrFragmented) {
  FrameWriter client(Role::kClient);
  Bytes out;
  EXPECT_THROW(client.append_frame(out, Opcode::kPing, Bytes(126)), std::invalid_argument);
  EXPECT_THROW(client.append_frame(out, Opcode::kPong, Bytes(1), false), std::invalid_argument);
  EXPECT_THROW(client.header(Opcode::kBinary, std::uint64_t{1} << 63), std::invalid_argument);
  client.append_frame(out, Opcode::kPing, Bytes(125));
  EXPECT_EQ(out.size(), 2u + 4u + 125u);
}

// --- Handshake ------------------------------------------------------------------------------

TEST(WsHandshake, KeysMustBeTheBase64Of16Bytes) {
  EXPECT_TRUE(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(is_valid_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(is_valid_key("++++++++++++++++++++//=="));
  EXPECT_FALSE(is_valid_key(""));
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25jZQ="));    // 23 characters
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25jZQ==="));  // 25
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25jZQAA"));   // no padding: 18 bytes
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25jZ==="));   // 15 bytes
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25jZ-=="));   // base64url, not base64
  EXPECT_FALSE(is_valid_key(" dGhlIHNhbXBsZSBub25jZQ="));
}

TEST(WsHandshake, GeneratedKeysAreValidAndDiffer) {
  const std::string a = generate_key();
  const std::string b = generate_key();
  EXPECT_TRUE(is_valid_key(a)) << a;
  EXPECT_TRUE(is_valid_key(b)) << b;
  EXPECT_NE(a, b);
  EXPECT_EQ(accept_key(a).size(), 28u);
}

TEST(WsHandshake, SubprotocolIsTheServersFirstChoiceThatTheClientOffered) {
  const std::vector<std::string> supported = {"v2.chat", "v1.chat"};
  EXPECT_EQ(select_subprotocol("v1.chat, v2.chat", supported), "v2.chat");
  EXPECT_EQ(select_subprotocol("v1.chat", supported), "v1.chat");
  EXPECT_EQ(select_subprotocol(" soap ,\tv1.chat\t", supported), "v1.chat");
  EXPECT_EQ(select_subprotocol("soap,,wamp", supported), std::nullopt);
  EXPECT_EQ(select_subprotocol("V1.CHAT", supported), std::nullopt);  // names compare exactly
  EXPECT_EQ(select_subprotocol("v1.chat x", supported), std::nullopt);
  EXPECT_EQ(select_subprotocol("", supported), std::nullopt);
  EXPECT_EQ(select_subprotocol("v1.chat", {}), std::nullopt);
}
