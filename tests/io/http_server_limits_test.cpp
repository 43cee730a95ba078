// http::Server's limits, each answered with its status while other connections go on being
// served: 431 for a head too large, 414 for a request line too long, 413 for a body over
// max_body, 400 for a malformed request (then the connection closes), 408 for a head that
// trickles in past header_timeout (slowloris), the idle keep-alive timeout, the requests
// per connection and the connection limit.
#include <gtest/gtest.h>

#include <poll.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "http_test_util.hpp"

using namespace std::chrono_literals;
using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::http::Router;
using weft::test::body_of;
using weft::test::RawClient;
using weft::test::TestServer;

namespace {

Router router() {
  Router r;
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("Hello, World!"); });
  r.post("/echo",
         [](Request& req) -> Task<Response> { co_return Response::text(co_await req.text()); });
  return r;
}

/// True if another connection is served normally now.
bool others_are_served(std::uint16_t port) {
  RawClient c(port);
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  return body_of(c.read_response()) == "Hello, World!";
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST(HttpServerLimits, AHeadOverMaxHeadIs431AndTheConnectionCloses) {
  TestServer s(router(), {.max_head = 4096});
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_TRUE(starts_with(r, "HTTP/1.1 431 Request Header Fields Too Large\r\n")) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, TooManyHeaderFieldsAre431) {
  TestServer s(router(), {.max_headers = 10});
  RawClient c(s.port());
  std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  c.send(req + "\r\n");
  EXPECT_TRUE(starts_with(c.read_response(), "HTTP/1.1 431 "));
}

TEST(HttpServerLimits, ARequestLineOverItsLimitIs414) {
  TestServer s(router(), {.max_request_line = 1024});
  RawClient c(s.port());
  c.send("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_TRUE(starts_with(r, "HTTP/1.1 414 URI Too Long\r\n")) << r;
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, ABodyOverMaxBodyIs413WithoutReadingIt) {
  TestServer s(router(), {.max_body = 1024, .max_drain = 1024});
  RawClient c(s.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
         std::string(2000, 'x'));
  std::string r = c.read_response();
  EXPECT_TRUE(starts_with(r, "HTTP/1.1 413 Content Too Large\r\n")) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_NE(body_of(r).find("1024-byte limit"), std::string::npos) << r;
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, AChunkedBodyOverMaxBodyIs413) {
  TestServer s(router(), {.max_body = 1000});
  RawClient c(s.port());
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) req += "100\r\n" + std::string(256, 'y') + "\r\n";
  c.send(req + "0\r\n\r\n");
  EXPECT_TRUE(starts_with(c.read_response(), "HTTP/1.1 413 "));
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, ABodyWithinTheLimitIsRead) {
  TestServer s(router(), {.max_body = 1000});
  RawClient c(s.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'z'));
  EXPECT_EQ(body_of(c.read_response()), std::string(1000, 'z'));
}

TEST(HttpServerLimits, AMalformedRequestIs400WithConnectionClose) {
  TestServer s(router());
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_TRUE(starts_with(r, "HTTP/1.1 400 Bad Request\r\n")) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_NE(body_of(r).find("header name"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer());
  // So is a bad escape in the path, and a body framed two ways (the smuggling rule).
  RawClient d(s.port());
  d.send("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(starts_with(d.read_response(), "HTTP/1.1 400 "));
  RawClient e(s.port());
  e.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_TRUE(starts_with(e.read_response(), "HTTP/1.1 400 "));
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, AHeadTricklingInPastTheHeaderTimeoutIs408AndOthersAreServed) {
  TestServer s(router(), {.header_timeout = 300ms});
  RawClient slow(s.port());
  const std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 's');
  // One byte every 20 ms: each byte comes well within the timeout, the head never does.
  bool answered = false;
  for (std::size_t i = 0; i < head.size() && !answered; ++i) {
    slow.send(head.substr(i, 1));
    if (i % 10 == 0) {
      EXPECT_TRUE(others_are_served(s.port()));
    }
    pollfd p{slow.fd(), POLLIN, 0};
    answered = ::poll(&p, 1, 20) == 1;
  }
  ASSERT_TRUE(answered) << "no answer to a head trickling in for 4 s";
  std::string r = slow.read_response();
  EXPECT_TRUE(starts_with(r, "HTTP/1.1 408 Request Timeout\r\n")) << r;
  EXPECT_TRUE(others_are_served(s.port()));
}

TEST(HttpServerLimits, AnIdleKeepAliveConnectionIsClosedSilently) {
  TestServer s(router(), {.keep_alive_timeout = 200ms});
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
  EXPECT_EQ(c.read_all(), "");  // closed with no bytes, before the client's 10 s timeout
}

TEST(HttpServerLimits, TheLastRequestAllowedOnAConnectionIsAnsweredWithClose) {
  TestServer s(router(), {.max_requests_per_connection = 2});
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = c.read_response();
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;
  std::string second = c.read_response();
  EXPECT_NE(second.find("Connection: close\r\n"), std::string::npos) << second;
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServerLimits, PastMaxConnectionsAClientWaitsUntilAConnectionEnds) {
  TestServer s(router(), {.max_connections = 1});
  auto first = std::make_unique<RawClient>(s.port());
  first->send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(first->read_response()), "Hello, World!");
  RawClient second(s.port());  // connects: the kernel's backlog holds it
  second.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  pollfd p{second.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 200), 0) << "served past max_connections";
  first.reset();  // the first connection ends: the second is accepted and served
  EXPECT_EQ(body_of(second.read_response()), "Hello, World!");
}

TEST(HttpServerLimits, AClientThatStopsReadingIsDroppedAfterTheWriteTimeoutUnreported) {
  std::promise<void> timed_out;
  std::atomic<int> reported{0};
  Router r = router();
  r.get("/big", [&timed_out](Request&) -> Task<Response> {
    co_return Response::stream([&timed_out](weft::http::BodyWriter& w) -> Task<void> {
      const std::string piece(256 * 1024, 'b');
      try {
        for (int i = 0; i < 4096; ++i) co_await w.write(piece);  // 1 GiB: never fits
      } catch (const weft::TimeoutError&) {
        timed_out.set_value();
        throw;
      }
    });
  });
  weft::http::ServerOptions o;
  o.write_timeout = 200ms;
  o.on_error = [&](const Request&, std::exception_ptr) { reported.fetch_add(1); };
  TestServer s(std::move(r), o);
  RawClient c(s.port());
  c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");  // and never read
  ASSERT_EQ(timed_out.get_future().wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(others_are_served(s.port()));
  s.stop();
  EXPECT_EQ(reported.load(), 0);
}
