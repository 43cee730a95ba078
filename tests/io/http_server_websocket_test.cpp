// WebSocket routes of weft::http::Server (Response::websocket): weft's ws::connect and
// Python's websockets as clients; the handshake's refusals (a plain GET, another version);
// a handler that throws closes with 1011 and reaches on_error; the access log sees the 101.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "http_test_util.hpp"

using namespace std::chrono_literals;
using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::http::Router;
using weft::test::RawClient;
using weft::test::TestServer;
namespace ws = weft::http::ws;

namespace {

/// Echoes every message back with the route's room in front, until the client closes.
Response echo_route(Request& req) {
  std::string room(req.param("room"));
  weft::http::WebSocketOptions options;
  options.subprotocols.push_back("chat.v1");
  return Response::websocket(
      [room](ws::WebSocket& socket) -> Task<void> {
        while (auto m = co_await socket.receive()) {
          if (m->is_text()) {
            co_await socket.send_text(room + ":" + m->data);
          } else {
            co_await socket.send_binary(room + ":" + m->data);
          }
        }
      },
      std::move(options));
}

Router ws_router() {
  Router r;
  r.get("/ws/{room}", [](Request& req) -> Task<Response> { co_return echo_route(req); });
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("hello"); });
  r.get("/fails", [](Request&) -> Task<Response> {
    co_return Response::websocket([](ws::WebSocket& socket) -> Task<void> {
      co_await socket.receive();
      throw std::runtime_error("the handler gave up");
    });
  });
  return r;
}

std::string ws_url(const TestServer& s, std::string_view path) {
  return "ws://127.0.0.1:" + std::to_string(s.port()) + std::string(path);
}

}  // namespace

TEST(HttpServerWebSocket, ARouteServesWeftsClientWithTheChosenSubprotocol) {
  std::mutex m;
  std::vector<int> logged;
  weft::http::ServerOptions options;
  options.access_log = [&](const weft::http::AccessLogEntry& e) {
    std::lock_guard lk(m);
    logged.push_back(e.status);
  };
  TestServer server(ws_router(), options);
  weft::run([](std::string url) -> Task<void> {
    ws::ConnectOptions offer;
    offer.subprotocols.push_back("chat.v2");
    offer.subprotocols.push_back("chat.v1");
    ws::WebSocket c = co_await ws::connect(url, offer);
    EXPECT_EQ(c.subprotocol(), "chat.v1");
    for (int i = 0; i < 3; ++i) {
      co_await c.send_text("message " + std::to_string(i));
      auto reply = co_await c.receive();
      EXPECT_TRUE(reply && reply->data == "lobby:message " + std::to_string(i));
    }
    co_await c.close();
    EXPECT_EQ(c.close_code(), 1000);  // the server's handler ended and closed in turn
  }(ws_url(server, "/ws/lobby")));
  server.stop();
  std::lock_guard lk(m);
  EXPECT_EQ(logged, std::vector<int>{101});
}

TEST(HttpServerWebSocket, ARouteServesPythonsWebsocketsClient) {
  TestServer server(ws_router());
  const std::string cmd =
      "/usr/bin/python3 " WEFT_WS_PEER " client " + ws_url(server, "/ws/py") + " echo";
  weft::test::CommandResult r = weft::test::run_command(cmd);
  EXPECT_EQ(r.out, "text py:héllo\nbinary " + std::string("70793a0001ff") +  // "py:" + bytes
                       "\nbig 100003\nclosed 1000\n")
      << r.out;
}

TEST(HttpServerWebSocket, APlainGetToAWebSocketRouteGets400AndTheOtherRoutesStillServe) {
  TestServer server(ws_router());
  RawClient c(server.port());
  ASSERT_TRUE(c.send("GET /ws/lobby HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string got = c.read_all();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 Bad Request\r\n")) << got;
  EXPECT_NE(got.find("Upgrade: websocket"), std::string::npos) << got;
  RawClient other(server.port());
  ASSERT_TRUE(other.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(other.read_all().find("\r\n\r\nhello"), std::string::npos);
}

TEST(HttpServerWebSocket, AnotherVersionGets426NamingVersion13) {
  TestServer server(ws_router());
  RawClient c(server.port());
  ASSERT_TRUE(
      c.send("GET /ws/lobby HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"));
  const std::string got = c.read_all();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 426 Upgrade Required\r\n")) << got;
  EXPECT_NE(got.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << got;
}

TEST(HttpServerWebSocket, AHandlerThatThrowsClosesWith1011AndReachesOnError) {
  std::atomic<int> errors{0};
  std::mutex m;
  std::string error_text;
  weft::http::ServerOptions options;
  options.on_error = [&](const Request&, std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::lock_guard lk(m);
      error_text = ex.what();
    }
    errors.fetch_add(1);
  };
  TestServer server(ws_router(), options);
  weft::run([](std::string url) -> Task<void> {
    ws::WebSocket c = co_await ws::connect(url);
    co_await c.send_text("anything");
    EXPECT_EQ(co_await c.receive(), std::nullopt);
    EXPECT_EQ(c.close_code(), 1011);
  }(ws_url(server, "/fails")));
  server.stop();
  EXPECT_EQ(errors.load(), 1);
  std::lock_guard lk(m);
  EXPECT_EQ(error_text, "the handler gave up");
}

TEST(HttpServerWebSocket, ShutdownSays1001AndLetsTheHandlerEndWithinTheGrace) {
  TestServer server(ws_router());
  weft::run([](TestServer& server, std::string url) -> Task<void> {
    ws::WebSocket c = co_await ws::connect(url);
    co_await c.send_text("before");
    auto reply = co_await c.receive();
    EXPECT_TRUE(reply && reply->data == "lobby:before");
    server.stop_async(10s);
    // The server's close frame ends the client's receive; the echo handler's receive()
    // then returns nullopt and it returns: nothing is left for the grace to cancel.
    EXPECT_EQ(co_await c.receive(), std::nullopt);
    EXPECT_EQ(c.close_code(), 1001);
    EXPECT_EQ(c.close_reason(), "the server is shutting down");
  }(server, ws_url(server, "/ws/lobby")));
  EXPECT_EQ(server.wait_stopped(), 0u);
}
