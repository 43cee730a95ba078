// http::Server::shutdown: stop accepting, close idle keep-alive connections at once, let a
// request in flight finish (its response says Connection: close), and cancel what is still
// running at the deadline.
#include <gtest/gtest.h>

#include <future>
#include <string>

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

struct SlowRoute {
  std::promise<void> started;
  weft::Event release;
};

Router router(SlowRoute& slow) {
  Router r;
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("Hello, World!"); });
  r.get("/slow", [&slow](Request&) -> Task<Response> {
    slow.started.set_value();
    co_await slow.release.wait();
    co_return Response::text("finally");
  });
  r.get("/forever", [&slow](Request&) -> Task<Response> {
    slow.started.set_value();
    co_await weft::sleep(1h);
    co_return Response::text("never");
  });
  return r;
}

}  // namespace

TEST(HttpServerShutdown, AnInFlightRequestFinishesAndIdleConnectionsCloseAtOnce) {
  SlowRoute slow;
  TestServer s(router(slow));
  RawClient idle(s.port());
  idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(idle.read_response()), "Hello, World!");
  RawClient busy(s.port());
  busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  slow.started.get_future().wait();

  s.stop_async(10s);
  EXPECT_EQ(idle.read_all(), "");  // closed while the slow request is still running
  slow.release.set();
  std::string r = busy.read_response();
  EXPECT_EQ(body_of(r), "finally");
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_TRUE(busy.closed_by_peer());
  EXPECT_EQ(s.wait_stopped(), 0u);
  EXPECT_THROW(RawClient late(s.port()), std::runtime_error);  // no longer listening
}

TEST(HttpServerShutdown, ARequestStillRunningAtTheDeadlineIsCancelled) {
  SlowRoute slow;
  TestServer s(router(slow));
  RawClient busy(s.port());
  busy.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
  slow.started.get_future().wait();
  EXPECT_EQ(s.stop(100ms), 1u);
  EXPECT_EQ(busy.read_all(), "");  // closed without a response
}
