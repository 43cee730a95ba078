// weft::http::ws: the server's answer to upgrade requests; WebSocket connections against
// Python's websockets library (echo, close codes both ways, ping, subprotocols, the maximum
// message, wss://), against raw peers that break the protocol (a reserved bit, a missing
// close frame, a refused or forged handshake), and weft against weft in one process
// (concurrent senders with a receiver, close while receiving, close timeout, cancellation,
// misuse).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <weft/io/http/websocket.hpp>
#include <weft/io/http/ws_connect.hpp>
#include <weft/io/tls.hpp>
#include <weft/weft.hpp>

#include "http/request_parser.hpp"
#include "http/ws_accept.hpp"
#include "tls_test_certs.hpp"

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;
namespace ws = weft::http::ws;

namespace {

weft::RuntimeOptions workers(std::size_t n) {
  weft::RuntimeOptions o;
  o.workers = n;
  return o;
}

TcpListener listen_local() {
  return TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
}

/// tests/io/ws_peer.py as a child process: a server (its port read from its first line) or a
/// client; its output lines are what it saw.
class Peer {
 public:
  static weft::Task<Peer> server(std::string mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"/usr/bin/python3", WEFT_WS_PEER, "server", std::move(mode)};
    for (auto& a : extra) args.push_back(std::move(a));
    Peer p(std::move(args));
    std::string line = co_await p.line();
    if (line.rfind("PORT ", 0) != 0) {
      throw std::runtime_error("ws_peer.py server did not start: '" + line + "'");
    }
    p.port = static_cast<std::uint16_t>(std::stoi(line.substr(5)));
    co_return p;
  }
  static Peer client(const std::string& url, std::string mode) {
    return Peer({"/usr/bin/python3", WEFT_WS_PEER, "client", url, std::move(mode)});
  }

  /// The next line it printed, without "\n"; "" once it ended.
  weft::Task<std::string> line() {
    std::string l = co_await reader_->read_line();
    if (!l.empty() && l.back() == '\n') l.pop_back();
    co_return l;
  }
  /// Closes its stdin (a server then stops) and waits for it to exit.
  weft::Task<weft::process::ExitStatus> finish() {
    child_->in.reset();
    co_return co_await weft::wait_for(child_->wait(), 20s);
  }

  std::uint16_t port = 0;

 private:
  explicit Peer(std::vector<std::string> args)
      : child_(std::make_unique<weft::process::Child>(weft::process::Child::spawn(
            std::move(args),
            {.in = weft::process::Stdio::pipe(), .out = weft::process::Stdio::pipe()}))),
        reader_(
            std::make_unique<weft::net::BufferedReader<weft::process::PipeReader>>(*child_->out)) {}

  // Behind pointers, so that the reader's pointer to the pipe survives moving a Peer.
  std::unique_ptr<weft::process::Child> child_;
  std::unique_ptr<weft::net::BufferedReader<weft::process::PipeReader>> reader_;
};

std::string url_of(const Peer& p, std::string_view path = "/") {
  return "ws://127.0.0.1:" + std::to_string(p.port) + std::string(path);
}

std::string bytes_string(std::size_t n, char c) {
  return std::string(n, c);
}

/// The server side of the opening handshake, as the HTTP server runs it: reads the request,
/// answers with answer_upgrade, and on 101 hands the connection to a WebSocket.
weft::Task<ws::WebSocket> accept_websocket(TcpListener& l, ws::Options options = {}) {
  auto [stream, peer] = co_await l.accept();
  std::vector<char> buf(8192);
  std::size_t used = 0;
  weft::http::RequestParser parser;
  for (;;) {
    std::size_t n = co_await stream.read(std::as_writable_bytes(std::span(buf).subspan(used)));
    if (n == 0) throw std::runtime_error("the client left during the handshake");
    used += n;
    auto st = parser.parse(std::string_view(buf.data(), used));
    if (st == weft::http::ParseStatus::kDone) break;
    if (st == weft::http::ParseStatus::kError) throw std::runtime_error("bad handshake request");
  }
  ws::detail::UpgradeAnswer answer = ws::detail::answer_upgrade(parser.head(), {});
  co_await stream.write_all(answer.response);
  if (answer.status != 101) throw std::runtime_error("refused: " + answer.detail);
  auto rest = std::as_bytes(std::span(buf.data() + parser.consumed(), used - parser.consumed()));
  co_return ws::WebSocket(std::move(stream), ws::Role::kServer, rest, {}, options);
}

/// A weft client and a weft server connected to each other.
struct Pair {
  ws::WebSocket client;
  ws::WebSocket server;
};

weft::Task<Pair> connect_pair(ws::Options server_options = {}, ws::Options client_options = {}) {
  TcpListener l = listen_local();
  auto server = weft::spawn(accept_websocket(l, server_options));
  ws::WebSocket client =
      co_await ws::connect("ws://127.0.0.1:" + std::to_string(l.local_address().port()) + "/pair",
                           {.options = client_options});
  ws::WebSocket server_side = co_await server;  // (not inside the braces: GCC 12, as above)
  co_return Pair{std::move(client), std::move(server_side)};
}

/// The client closes while the server side receives (a task of its own, so that the close
/// frame is answered): the server's receive ends, having seen `code`.
weft::Task<void> close_from_client(Pair& p, std::uint16_t code = 1000) {
  auto server_side = weft::spawn([](ws::WebSocket& w) -> weft::Task<std::optional<ws::Message>> {
    co_return co_await w.receive();
  }(p.server));
  co_await p.client.close(code);
  EXPECT_EQ(co_await server_side, std::nullopt);
  EXPECT_EQ(p.server.close_code(), code);
  EXPECT_EQ(p.client.close_code(), code);  // the server echoed it
}

// ---- the server's answer to an upgrade request ---------------------------------------

/// answer_upgrade's answer to the request head `head` (CRLF line ends added here).
ws::detail::UpgradeAnswer answer(std::string head, std::vector<std::string> subprotocols = {}) {
  std::string text;
  for (std::size_t at = 0; at < head.size();) {
    std::size_t nl = head.find('\n', at);
    text += head.substr(at, nl - at) + "\r\n";
    at = nl + 1;
  }
  text += "\r\n";
  weft::http::RequestParser parser;
  EXPECT_EQ(parser.parse(text), weft::http::ParseStatus::kDone) << text;
  return ws::detail::answer_upgrade(parser.head(), subprotocols);
}

constexpr const char* kSampleRequest =  // RFC 6455 §1.3's key
    "GET /chat HTTP/1.1\nHost: server.example.com\nUpgrade: websocket\n"
    "Connection: keep-alive, Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
    "Sec-WebSocket-Version: 13\n";

TEST(WebSocketAccept, AValidRequestGets101WithTheAcceptKeyOfTheRfc) {
  auto a = answer(kSampleRequest);
  EXPECT_EQ(a.status, 101);
  EXPECT_NE(a.response.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            std::string::npos)
      << a.response;
  EXPECT_EQ(a.response.find("Sec-WebSocket-Protocol"), std::string::npos);
  EXPECT_TRUE(a.response.ends_with("\r\n\r\n"));
}

TEST(WebSocketAccept, TheSubprotocolIsTheServersFirstChoiceAmongThoseOffered) {
  auto a = answer(std::string(kSampleRequest) + "Sec-WebSocket-Protocol: chat, superchat\n" +
                      "Sec-WebSocket-Protocol: v3\n",
                  {"v3", "superchat", "chat"});
  EXPECT_EQ(a.status, 101);
  EXPECT_EQ(a.detail, "v3");  // offered on a second line, still part of the list
  EXPECT_NE(a.response.find("Sec-WebSocket-Protocol: v3\r\n"), std::string::npos);
  EXPECT_EQ(answer(std::string(kSampleRequest) + "Sec-WebSocket-Protocol: x\n", {"y"}).detail, "");
}

TEST(WebSocketAccept, AnotherVersionGets426NamingVersion13) {
  std::string req = kSampleRequest;
  req.replace(req.find("Version: 13"), 11, "Version: 8");
  auto a = answer(req);
  EXPECT_EQ(a.status, 426);
  EXPECT_NE(a.response.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << a.response;
  EXPECT_NE(a.response.find("Connection: close"), std::string::npos);
}

TEST(WebSocketAccept, MalformedHandshakesGet400SayingWhatIsWrong) {
  auto with = [](std::string from, std::string to) {
    std::string req = kSampleRequest;
    req.replace(req.find(from), from.size(), to);
    return answer(req);
  };
  auto post = with("GET", "POST");
  EXPECT_EQ(post.status, 400);
  EXPECT_NE(post.detail.find("GET"), std::string::npos);
  EXPECT_EQ(with("HTTP/1.1", "HTTP/1.0").status, 400);
  EXPECT_NE(with("Upgrade: websocket", "Upgrade: h2c").detail.find("Upgrade: websocket"),
            std::string::npos);
  EXPECT_NE(with("dGhlIHNhbXBsZSBub25jZQ==", "short").detail.find("base64 of 16 bytes"),
            std::string::npos);
  EXPECT_NE(with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n", "").detail.find("exactly one"),
            std::string::npos);
  auto refused = with("GET", "POST");
  EXPECT_TRUE(refused.response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(refused.response.ends_with("\r\n\r\n" + refused.detail + "\n")) << refused.response;
}

// ---- against Python's websockets ------------------------------------------------------

TEST(WebSocketWithPython, EchoesTextBinaryEmptyAndLargeMessages) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("echo");
        ws::WebSocket c = co_await ws::connect(url_of(server, "/echo?x=1"));
        co_await c.send_text("héllo, wörld");
        auto m = co_await c.receive();
        EXPECT_TRUE(m && m->is_text());
        EXPECT_EQ(m->data, "héllo, wörld");
        const std::string binary("\x00\x01\xfe\xff", 4);
        co_await c.send_binary(binary);
        m = co_await c.receive();
        EXPECT_TRUE(m && !m->is_text());
        EXPECT_EQ(m->data, binary);
        co_await c.send_text("");
        m = co_await c.receive();
        EXPECT_TRUE(m && m->data.empty());
        const std::string big = bytes_string(3 * 1024 * 1024 + 7, 'z');
        co_await c.send_binary(big);
        m = co_await c.receive();
        EXPECT_TRUE(m && m->data == big);
        co_await c.close(1000, "bye");
        // The server saw the close frame's code and reason.
        EXPECT_EQ(co_await server.line(), "closed 1000 bye");
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(2));
}

TEST(WebSocketWithPython, ServerCloseEndsReceiveWithItsCodeAndReason) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("close4000");
        ws::WebSocket c = co_await ws::connect(url_of(server));
        EXPECT_EQ(c.close_code(), std::nullopt);
        EXPECT_EQ(co_await c.receive(), std::nullopt);
        EXPECT_EQ(c.close_code(), 4000);
        EXPECT_EQ(c.close_reason(), "done");
        // The server's close() returned: weft answered its close frame.
        EXPECT_EQ(co_await server.line(), "closed 4000");
        // Receiving again says the same; sending is refused.
        EXPECT_EQ(co_await c.receive(), std::nullopt);
        EXPECT_THROW(co_await c.send_text("late"), ws::ConnectionClosed);
        co_await c.close();  // nothing to do
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithPython, PingFromTheServerIsAnsweredWhileReceiving) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("ping");
        ws::WebSocket c = co_await ws::connect(url_of(server));
        // The server sends its text only once its ping got a pong.
        auto m = co_await c.receive();
        EXPECT_TRUE(m && m->data == "pong ok");
        co_await c.ping("from weft");  // the server's pong comes and goes unreported
        co_await c.close();
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithPython, SubprotocolIsTheOneTheServerChoseAmongThoseOffered) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("subprotocol");
        ws::ConnectOptions offer;  // (a braced list in a coroutine trips GCC 12)
        offer.subprotocols.push_back("chat.v1");
        ws::WebSocket c = co_await ws::connect(url_of(server), offer);
        EXPECT_EQ(c.subprotocol(), "chat.v1");
        auto m = co_await c.receive();
        EXPECT_TRUE(m && m->data == "chose chat.v1");
        co_await c.close();
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithPython, MessageOverTheMaximumFailsTheConnectionWith1009) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("big");
        ws::WebSocket c = co_await ws::connect(url_of(server), {.options = {.max_message = 1024}});
        try {
          co_await c.receive();
          ADD_FAILURE() << "a 2048-byte message was accepted under a 1024-byte maximum";
        } catch (const ws::ProtocolError& e) {
          EXPECT_EQ(e.code(), 1009);
          EXPECT_NE(std::string(e.what()).find("websocket 127.0.0.1:"), std::string::npos)
              << e.what();
        }
        EXPECT_EQ(co_await server.line(), "closed 1009");
        EXPECT_THROW(co_await c.receive(), ws::ConnectionClosed);
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithPython, WssConnectsThroughTlsAndChecksTheCertificate) {
  weft_test::TestCa ca("weft ws test CA");
  weft_test::CertAndKey ck = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
  char tmpl[] = "/tmp/weft_ws_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  std::ofstream(dir / "cert.pem") << ck.cert_pem;
  std::ofstream(dir / "key.pem") << ck.key_pem;
  weft::run(
      [](const std::filesystem::path& dir, std::string ca_pem) -> weft::Task<void> {
        std::vector<std::string> files;  // (a braced list in a coroutine trips GCC 12)
        files.push_back("--cert");
        files.push_back((dir / "cert.pem").string());
        files.push_back("--key");
        files.push_back((dir / "key.pem").string());
        Peer server = co_await Peer::server("echo", std::move(files));
        const std::string url = "wss://localhost:" + std::to_string(server.port) + "/";
        // Options built outside the co_await: GCC 12 destroys an aggregate temporary inside
        // a co_await expression twice.
        weft::tls::ClientOptions trust;
        trust.ca_pem = ca_pem;
        ws::ConnectOptions with_ca;
        with_ca.tls = weft::tls::Context::client(trust);
        ws::WebSocket c = co_await ws::connect(url, with_ca);
        co_await c.send_text("over tls");
        auto m = co_await c.receive();
        EXPECT_TRUE(m && m->data == "over tls");
        co_await c.close();
        // Without the CA, the system's store does not trust it.
        EXPECT_THROW(co_await ws::connect(url), weft::tls::Error);
        EXPECT_TRUE((co_await server.finish()).success());
      }(dir, ca.cert_pem()),
      workers(2));
  std::filesystem::remove_all(dir);
}

TEST(WebSocketWithPython, WeftServerRoleServesThePythonClient) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        Peer client = Peer::client(
            "ws://127.0.0.1:" + std::to_string(l.local_address().port()) + "/", "echo");
        ws::WebSocket s = co_await accept_websocket(l);
        int echoed = 0;
        while (auto m = co_await s.receive()) {
          if (m->is_text()) {
            co_await s.send_text(m->data);
          } else {
            co_await s.send_binary(m->data);
          }
          ++echoed;
        }
        EXPECT_EQ(echoed, 3);
        EXPECT_EQ(s.close_code(), 1000);
        EXPECT_EQ(s.close_reason(), "bye");
        EXPECT_EQ(co_await client.line(), "text héllo");
        EXPECT_EQ(co_await client.line(), "binary 0001ff");
        EXPECT_EQ(co_await client.line(), "big 100000");
        EXPECT_EQ(co_await client.line(), "closed 1000");
        EXPECT_TRUE((co_await client.finish()).success());
      }(),
      workers(2));
}

TEST(WebSocketWithPython, WeftServerCloseReachesThePythonClientWithCodeAndReason) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();
        Peer client = Peer::client(
            "ws://127.0.0.1:" + std::to_string(l.local_address().port()) + "/", "close-by-server");
        ws::WebSocket s = co_await accept_websocket(l);
        co_await s.close(4001, "server says bye");
        EXPECT_EQ(s.close_code(), 4001);  // the client echoed the code
        EXPECT_EQ(co_await client.line(), "closed 4001 server says bye");
        EXPECT_TRUE((co_await client.finish()).success());
      }(),
      workers(1));
}

// ---- against raw peers that break the protocol ----------------------------------------

TEST(WebSocketWithRawPeer, AReservedBitFailsTheConnectionWith1002) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("rsv1");
        ws::WebSocket c = co_await ws::connect(url_of(server));
        try {
          co_await c.receive();
          ADD_FAILURE() << "a frame with RSV1 set was accepted";
        } catch (const ws::ProtocolError& e) {
          EXPECT_EQ(e.code(), 1002);
        }
        EXPECT_EQ(co_await server.line(), "close 1002");
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithRawPeer, AConnectionEndingWithoutACloseFrameIs1006) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("eof");
        ws::WebSocket c = co_await ws::connect(url_of(server));
        auto m = co_await c.receive();  // what came before the end is delivered
        EXPECT_TRUE(m && m->data == "bye");
        try {
          co_await c.receive();
          ADD_FAILURE() << "the end of the connection was not reported";
        } catch (const ws::ConnectionClosed& e) {
          EXPECT_EQ(e.code(), 1006);
          EXPECT_NE(std::string(e.what()).find("without a close frame"), std::string::npos)
              << e.what();
        }
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithRawPeer, ARefusedHandshakeNamesTheStatusAndTheUrl) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("reject");
        const std::string url = url_of(server, "/private");
        try {
          co_await ws::connect(url);
          ADD_FAILURE() << "a 403 was taken for a handshake";
        } catch (const ws::HandshakeError& e) {
          EXPECT_EQ(e.status(), 403);
          EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("403 Forbidden"), std::string::npos) << e.what();
        }
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketWithRawPeer, AWrongAcceptKeyIsRefused) {
  weft::run(
      []() -> weft::Task<void> {
        Peer server = co_await Peer::server("badaccept");
        try {
          co_await ws::connect(url_of(server));
          ADD_FAILURE() << "a forged Sec-WebSocket-Accept was taken";
        } catch (const ws::HandshakeError& e) {
          EXPECT_NE(std::string(e.what()).find("Sec-WebSocket-Accept"), std::string::npos)
              << e.what();
        }
        EXPECT_TRUE((co_await server.finish()).success());
      }(),
      workers(1));
}

TEST(WebSocketConnect, RefusesUrlsItCannotUseBeforeConnecting) {
  auto message = [](std::string url) {
    try {
      (void)ws::connect(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("http://127.0.0.1/").find("scheme 'http'"), std::string::npos);
  EXPECT_NE(message("ws://127.0.0.1/#top").find("fragment"), std::string::npos);
  EXPECT_NE(message("ws://127.0.0.1:99999/").find("port '99999'"), std::string::npos);
  EXPECT_NE(message("ws://user@127.0.0.1/").find("user information"), std::string::npos);
  EXPECT_NE(message("ws:///path").find("no host"), std::string::npos);
  EXPECT_NE(message("127.0.0.1:80").find("no scheme"), std::string::npos);
}

TEST(WebSocketConnect, AServerThatNeverAnswersTimesOutNamingTheUrl) {
  weft::run(
      []() -> weft::Task<void> {
        TcpListener l = listen_local();  // accepts in the kernel, never answers
        const std::string url = "ws://127.0.0.1:" + std::to_string(l.local_address().port()) + "/";
        try {
          co_await ws::connect(url, {.timeout = 50ms});
          ADD_FAILURE() << "connect returned without a handshake";
        } catch (const weft::TimeoutError& e) {
          EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
        }
      }(),
      workers(1));
}

// ---- weft against weft -------------------------------------------------------------------

TEST(WebSocketPair, ConcurrentSendersAndOneReceiverLoseAndInterleaveNothing) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p = co_await connect_pair();
        constexpr int kPerSender = 500;
        auto sender = [](ws::WebSocket& w, char tag) -> weft::Task<void> {
          for (int i = 0; i < kPerSender; ++i) {
            // Sizes cross the 126-byte and 64 KiB length encodings.
            std::string body(static_cast<std::size_t>(i * 157 % 70000), tag);
            co_await w.send_text(std::string(1, tag) + std::to_string(i) + ":" + body);
          }
        };
        auto a = weft::spawn(sender(p.client, 'a'));
        auto b = weft::spawn(sender(p.client, 'b'));
        int next_a = 0, next_b = 0;
        for (int n = 0; n < 2 * kPerSender; ++n) {
          auto m = co_await p.server.receive();
          EXPECT_TRUE(m.has_value());
          if (!m) break;
          const char tag = m->data[0];
          int& next = tag == 'a' ? next_a : next_b;
          const std::size_t colon = m->data.find(':');
          EXPECT_EQ(std::stoi(m->data.substr(1, colon - 1)), next);
          EXPECT_EQ(m->data.size() - colon - 1, static_cast<std::size_t>(next * 157 % 70000));
          ++next;
        }
        co_await a;
        co_await b;
        EXPECT_EQ(next_a, kPerSender);
        EXPECT_EQ(next_b, kPerSender);
        co_await close_from_client(p);
      }(),
      workers(2));
}

TEST(WebSocketPair, CloseWhileAnotherTaskReceivesEndsThatReceive) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p = co_await connect_pair();
        auto receiving =
            weft::spawn([](ws::WebSocket& w) -> weft::Task<std::optional<ws::Message>> {
              co_return co_await w.receive();
            }(p.client));
        co_await weft::yield_now();  // with one worker, the receive is now waiting
        auto server_side =
            weft::spawn([](ws::WebSocket& w) -> weft::Task<std::optional<ws::Message>> {
              co_return co_await w.receive();
            }(p.server));
        co_await p.client.close(1001, "going away");
        EXPECT_EQ(co_await receiving, std::nullopt);
        EXPECT_EQ(p.client.close_code(), 1001);  // the server echoed it
        EXPECT_EQ(co_await server_side, std::nullopt);
        EXPECT_EQ(p.server.close_code(), 1001);
        EXPECT_EQ(p.server.close_reason(), "going away");
      }(),
      workers(1));
}

TEST(WebSocketPair, CloseGivesUpOnAPeerThatNeverAnswers) {
  weft::run(
      []() -> weft::Task<void> {
        // The server side exists but nobody reads it, so no close frame comes back.
        Pair p = co_await connect_pair({}, {.close_timeout = 20ms});
        co_await p.client.close();
        EXPECT_EQ(p.client.close_code(), std::nullopt);
        EXPECT_THROW(co_await p.client.receive(), ws::ConnectionClosed);
        // The server side still gets the client's close frame, then the end.
        EXPECT_EQ(co_await p.server.receive(), std::nullopt);
        EXPECT_EQ(p.server.close_code(), 1000);
      }(),
      workers(1));
}

TEST(WebSocketPair, AReceiveCancelledByATimeoutLosesNothing) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p = co_await connect_pair();
        EXPECT_THROW(co_await weft::wait_for(p.client.receive(), 5ms), weft::TimeoutError);
        co_await p.server.send_text("after the timeout");
        auto m = co_await p.client.receive();
        EXPECT_TRUE(m && m->data == "after the timeout");
        co_await close_from_client(p);
      }(),
      workers(1));
}

TEST(WebSocketPair, MisuseIsRefusedWithClearErrors) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p = co_await connect_pair();
        EXPECT_THROW(co_await p.client.ping(std::string(126, 'p')), std::length_error);
        EXPECT_THROW(co_await p.client.close(1006), std::invalid_argument);
        EXPECT_THROW(co_await p.client.close(1000, std::string(124, 'r')), std::length_error);
        // Two receives at once.
        auto first = weft::spawn([](ws::WebSocket& w) -> weft::Task<std::optional<ws::Message>> {
          co_return co_await w.receive();
        }(p.client));
        co_await weft::yield_now();
        EXPECT_THROW(co_await p.client.receive(), weft::UsageError);
        co_await p.server.send_text("for the first");
        auto m = co_await first;
        EXPECT_TRUE(m && m->data == "for the first");
        co_await close_from_client(p);
      }(),
      workers(1));
}

}  // namespace

// ---- the heartbeat (Options::heartbeat), on the virtual clock ----------------------------

weft::RuntimeOptions virtual_clock() {
  return {.workers = 1, .clock = weft::ClockKind::Virtual};
}

TEST(WebSocketHeartbeat, APeerThatAnswersPingsStaysConnectedThroughManyIntervals) {
  weft::run(
      []() -> weft::Task<void> {
        Pair p = co_await connect_pair({.heartbeat = 100ms});
        // The client's receive() answers the server's pings with pongs.
        auto client_side = weft::spawn([](ws::WebSocket& w) -> weft::Task<std::string> {
          auto m = co_await w.receive();
          co_return m ? m->data : "(none)";
        }(p.client));
        // Ten intervals of silence but for pings and pongs: still connected.
        EXPECT_THROW((void)co_await weft::wait_for(p.server.receive(), 1s), weft::TimeoutError);
        co_await p.server.send_text("still here");
        EXPECT_EQ(co_await client_side, "still here");
        co_await close_from_client(p);
      }(),
      virtual_clock());
}

TEST(WebSocketHeartbeat, APeerThatNeverAnswersIsDroppedHalfAnIntervalAfterThePing) {
  weft::run(
      []() -> weft::Task<void> {
        // Nobody receives on the client side, so the server's ping is never answered.
        Pair p = co_await connect_pair({.heartbeat = 100ms});
        const weft::TimePoint start = weft::now();
        try {
          (void)co_await p.server.receive();
          ADD_FAILURE() << "receive() returned";
        } catch (const ws::ConnectionClosed& e) {
          EXPECT_EQ(e.code(), 1006);
          EXPECT_NE(std::string(e.what()).find("heartbeat ping within 50 ms"), std::string::npos)
              << e.what();
        }
        EXPECT_GE(weft::now() - start, 150ms);  // a ping after 100 ms, then 50 ms of silence
        // The client sees the ping, then the end of the connection.
        EXPECT_THROW((void)co_await p.client.receive(), ws::ConnectionClosed);
      }(),
      virtual_clock());
}

TEST(WebSocketHeartbeat, ANegativeIntervalIsRefused) {
  weft::run(
      []() -> weft::Task<void> {
        EXPECT_THROW((void)co_await connect_pair({.heartbeat = -1ms}), std::invalid_argument);
      }(),
      workers(1));
}
