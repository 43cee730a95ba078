// http::Server against real clients on 127.0.0.1: curl for routes, parameters, HEAD,
// 404/405 with Allow, keep-alive reuse, chunked uploads and 100-continue; raw sockets for
// pipelining and HTTP/1.0; middleware, the access log, handler exceptions, streamed and
// file responses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "http_test_util.hpp"

using namespace std::chrono_literals;
using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::http::Router;
using weft::test::body_of;
using weft::test::RawClient;
using weft::test::run_command;
using weft::test::TestServer;

namespace {

Router hello_router() {
  Router r;
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("Hello, World!"); });
  r.get("/users/{id}", [](Request& req) -> Task<Response> {
    co_return Response::text("user " + std::string(req.param("id")) + " name " +
                             req.query("name").value_or("-"));
  });
  r.get("/files/{rest...}", [](Request& req) -> Task<Response> {
    co_return Response::text("rest=" + std::string(req.param("rest")));
  });
  r.post("/users/{id}", [](Request& req) -> Task<Response> {
    std::string body = co_await req.text();
    co_return Response::text("got " + std::to_string(body.size()) + " bytes for " +
                             std::string(req.param("id")));
  });
  r.post("/echo",
         [](Request& req) -> Task<Response> { co_return Response::text(co_await req.text()); });
  r.post("/reverse", [](Request& req) -> Task<Response> {
    std::vector<std::byte> data = co_await req.bytes();
    std::reverse(data.begin(), data.end());
    co_return Response::bytes(data);
  });
  return r;
}

std::string curl(const std::string& args) {
  if (!weft::test::require_program("/usr/bin/curl")) return "";
  return run_command("/usr/bin/curl -s -S --max-time 20 " + args + " 2>&1").out;
}

}  // namespace

TEST(HttpServer, AnswersARouteWithTheHandlersTextAndItsFraming) {
  TestServer s(hello_router());
  std::string out = curl("-i " + s.url("/hello"));
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 13\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(out.find("\r\nServer: weft\r\n"), std::string::npos);
  EXPECT_EQ(body_of(out), "Hello, World!");
}

TEST(HttpServer, PathParametersAndTheQueryArriveDecoded) {
  TestServer s(hello_router());
  EXPECT_EQ(curl("'" + s.url("/users/42?name=J%C3%BCrgen+K") + "'"), "user 42 name Jürgen K");
  EXPECT_EQ(curl("'" + s.url("/us%65rs/7") + "'"), "user 7 name -");
  EXPECT_EQ(curl(s.url("/files/a/b/c.txt")), "rest=a/b/c.txt");
}

TEST(HttpServer, AnUnknownPathIs404AndAKnownOneWithTheWrongMethodIs405WithAllow) {
  TestServer s(hello_router());
  std::string out = curl("-i " + s.url("/nowhere"));
  EXPECT_EQ(out.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << out;
  out = curl("-i -X DELETE " + s.url("/users/1"));
  EXPECT_EQ(out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Allow: GET, POST, HEAD\r\n"), std::string::npos) << out;
}

TEST(HttpServer, OptionsAsteriskIs200WithEveryMethodSomeRouteTakes) {
  TestServer s(hello_router());
  RawClient c(s.port());
  c.send("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = c.read_response();
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Allow: GET, HEAD, OPTIONS, POST\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Content-Length: 0\r\n"), std::string::npos) << out;
}

TEST(HttpServer, HeadGetsTheHeadersOfGetWithoutTheBody) {
  TestServer s(hello_router());
  RawClient c(s.port());
  c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  // The HEAD response has Content-Length 13 and no body: the next response follows at once.
  std::string both;
  for (int i = 0; i < 2; ++i) both += c.read_response();
  std::size_t second = both.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << both;
  std::string head = both.substr(0, second);
  EXPECT_NE(head.find("Content-Length: 13\r\n"), std::string::npos) << head;
  EXPECT_EQ(body_of(head), "");
  EXPECT_EQ(body_of(both.substr(second)), "Hello, World!");
}

TEST(HttpServer, CurlReusesTheConnectionForTwoUrls) {
  std::mutex mu;
  std::vector<std::string> peers;
  weft::http::ServerOptions o;
  o.access_log = [&](const weft::http::AccessLogEntry& e) {
    std::lock_guard lk(mu);
    peers.push_back(e.peer->to_string());
  };
  TestServer s(hello_router(), o);
  EXPECT_EQ(curl(s.url("/hello") + " " + s.url("/hello")), "Hello, World!Hello, World!");
  std::lock_guard lk(mu);
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0], peers[1]);  // one connection, so one client port
}

TEST(HttpServer, AChunkedUploadArrivesDecoded) {
  TestServer s(hello_router());
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "/http_chunked_upload.bin";
  {
    std::ofstream f(file, std::ios::binary);
    for (int i = 0; i < 100000; ++i) f << static_cast<char>('a' + i % 26);
  }
  std::string out =
      curl("-H 'Transfer-Encoding: chunked' --data-binary @" + file + " " + s.url("/users/9"));
  EXPECT_EQ(out, "got 100000 bytes for 9");
  std::filesystem::remove(file);
}

TEST(HttpServer, ALargeUploadIsAskedForWith100Continue) {
  weft::http::ServerOptions o;
  o.max_body = 4 << 20;
  TestServer s(hello_router(), o);
  const std::string file = ::testing::TempDir() + "/http_continue_upload.bin";
  {
    std::ofstream f(file, std::ios::binary);
    f << std::string(2 << 20, 'x');  // curl asks for 100-continue above 1 MiB
  }
  std::string out = curl("-v --data-binary @" + file + " " + s.url("/users/3"));
  EXPECT_NE(out.find("Expect: 100-continue"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/1.1 100 Continue"), std::string::npos) << out;
  EXPECT_NE(out.find("got 2097152 bytes for 3"), std::string::npos) << out;
  std::filesystem::remove(file);
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  TestServer s(hello_router());
  RawClient c(s.port());
  std::string reqs;
  for (int i = 0; i < 5; ++i) {
    reqs += "GET /users/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  reqs += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping";
  reqs += "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(c.send(reqs));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(body_of(c.read_response()), "user " + std::to_string(i) + " name -");
  }
  EXPECT_EQ(body_of(c.read_response()), "ping");
  std::string last = c.read_response();
  EXPECT_NE(last.find("Connection: close\r\n"), std::string::npos) << last;
  EXPECT_EQ(body_of(last), "Hello, World!");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, AnUnreadBodyIsDrainedBeforeTheNextRequest) {
  TestServer s(hello_router());
  RawClient c(s.port());
  ASSERT_TRUE(c.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"));
  // The route is GET only: 405, and the body (sent after the head) is skipped.
  ASSERT_TRUE(c.send("abcde"));
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
}

TEST(HttpServer, Http10GetsKeepAliveOnlyWhenItAsks) {
  TestServer s(hello_router());
  {
    RawClient c(s.port());
    c.send("GET /hello HTTP/1.0\r\n\r\n");
    std::string r = c.read_all();  // closed after the response
    EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r;
    EXPECT_EQ(body_of(r), "Hello, World!");
  }
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_NE(r.find("Connection: keep-alive\r\n"), std::string::npos) << r;
  c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
}

TEST(HttpServer, MiddlewareRunsInOrderAndMayShortCircuitOrChangeTheResponse) {
  Router r = hello_router();
  r.get("/gone", [](Request&) -> Task<Response> {
    throw weft::http::HttpError(410, "it left");
    co_return Response();
  });
  r.use([](Request& req, weft::http::Next next) -> Task<Response> {
    if (req.header("X-Token").value_or("") != "secret") {
      co_return Response(401, "no token\n");
    }
    Response resp = co_await next(req);
    resp.header("X-Outer", "1");
    co_return resp;
  });
  r.use([](Request& req, weft::http::Next next) -> Task<Response> {
    Response resp = co_await next(req);
    resp.header("X-Inner", "1");
    resp.body() += "!";
    co_return resp;
  });
  TestServer s(std::move(r));
  std::string out = curl("-i " + s.url("/hello"));
  EXPECT_EQ(out.rfind("HTTP/1.1 401 Unauthorized", 0), 0u) << out;
  out = curl("-i -H 'X-Token: secret' " + s.url("/hello"));
  EXPECT_EQ(body_of(out), "Hello, World!!");
  EXPECT_LT(out.find("X-Inner: 1"), out.find("X-Outer: 1")) << out;
  // Middleware runs around the router's 404 too, and sees a handler's HttpError as the
  // response it stands for.
  out = curl("-i -H 'X-Token: secret' " + s.url("/nowhere"));
  EXPECT_EQ(out.rfind("HTTP/1.1 404", 0), 0u) << out;
  EXPECT_NE(out.find("X-Outer: 1"), std::string::npos) << out;
  out = curl("-i -H 'X-Token: secret' " + s.url("/gone"));
  EXPECT_EQ(out.rfind("HTTP/1.1 410 Gone", 0), 0u) << out;
  EXPECT_NE(out.find("X-Outer: 1"), std::string::npos) << out;
  EXPECT_EQ(body_of(out), "it left\n!");
}

TEST(HttpServer, TheAccessLogHearsOfEachResponse) {
  std::mutex mu;
  std::vector<std::string> lines;
  weft::http::ServerOptions o;
  o.access_log = [&](const weft::http::AccessLogEntry& e) {
    std::lock_guard lk(mu);
    lines.push_back(std::string(e.method) + " " + std::string(e.target) + " " +
                    std::to_string(e.status) + " " + std::to_string(e.bytes) + " " +
                    e.peer->host());
  };
  TestServer s(hello_router(), o);
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /nope?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  c.read_response();
  c.read_response();
  s.stop();
  std::lock_guard lk(mu);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "GET /hello 200 13 127.0.0.1");
  EXPECT_EQ(lines[1], "GET /nope?x=1 404 10 127.0.0.1");
}

TEST(HttpServer, AHandlersExceptionIs500ReportedOnceAndTheConnectionGoesOn) {
  Router r = hello_router();
  r.get("/boom", [](Request&) -> Task<Response> {
    throw std::runtime_error("handler broke");
    co_return Response();
  });
  r.get("/teapot", [](Request&) -> Task<Response> {
    throw weft::http::HttpError(418, "short and stout");
    co_return Response();
  });
  std::atomic<int> reported{0};
  std::string what;
  weft::http::ServerOptions o;
  o.on_error = [&](const Request& req, std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = std::string(req.path()) + ": " + ex.what();
    }
    reported.fetch_add(1);
  };
  TestServer s(std::move(r), o);
  RawClient c(s.port());
  c.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string resp = c.read_response();
  EXPECT_EQ(resp.rfind("HTTP/1.1 500 Internal Server Error", 0), 0u) << resp;
  c.send("GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n");
  resp = c.read_response();
  EXPECT_EQ(resp.rfind("HTTP/1.1 418 ", 0), 0u) << resp;
  EXPECT_EQ(body_of(resp), "short and stout\n");
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
  s.stop();
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(what, "/boom: handler broke");
}

TEST(HttpServer, AStreamedResponseIsChunkedForHttp11AndCloseDelimitedFor10) {
  Router r;
  r.get("/count", [](Request&) -> Task<Response> {
    co_return Response::stream(
        [](weft::http::BodyWriter& w) -> Task<void> {
          for (int i = 0; i < 5; ++i) co_await w.write(std::to_string(i) + "\n");
        },
        "text/plain");
  });
  TestServer s(std::move(r));
  std::string out = curl("-i " + s.url("/count"));
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
  EXPECT_EQ(body_of(out), "0\n1\n2\n3\n4\n");
  RawClient c(s.port());
  c.send("GET /count HTTP/1.0\r\n\r\n");
  std::string r10 = c.read_all();
  EXPECT_EQ(r10.find("Transfer-Encoding"), std::string::npos) << r10;
  EXPECT_EQ(body_of(r10), "0\n1\n2\n3\n4\n");
}

TEST(HttpServer, AFileIsSentWithItsLengthAndAMissingOneIs404) {
  const std::string file = ::testing::TempDir() + "/http_file_response.txt";
  std::string content;
  for (int i = 0; i < 200000; ++i) content += static_cast<char>('A' + i % 23);
  {
    std::ofstream f(file, std::ios::binary);
    f << content;
  }
  Router r;
  r.get("/file", [file](Request&) -> Task<Response> { co_return Response::file(file); });
  r.get("/missing",
        [](Request&) -> Task<Response> { co_return Response::file("/nonexistent/weft/file.txt"); });
  TestServer s(std::move(r));
  std::string out = curl("-i " + s.url("/file"));
  EXPECT_NE(out.find("Content-Length: 200000\r\n"), std::string::npos) << out.substr(0, 300);
  EXPECT_TRUE(body_of(out) == content);
  out = curl("-I " + s.url("/file"));
  EXPECT_NE(out.find("Content-Length: 200000\r\n"), std::string::npos) << out;
  out = curl("-i " + s.url("/missing"));
  EXPECT_EQ(out.rfind("HTTP/1.1 404", 0), 0u) << out;
  std::filesystem::remove(file);
}

TEST(HttpRouter, RefusesMalformedPatternsAndDuplicateRoutes) {
  Router r;
  auto h = [](Request&) -> Task<Response> { co_return Response(); };
  r.get("/a/{id}", h);
  EXPECT_THROW(r.get("/a/{id}", h), std::invalid_argument);
  EXPECT_THROW(r.get("no-slash", h), std::invalid_argument);
  EXPECT_THROW(r.get("/a/x{id}", h), std::invalid_argument);
  EXPECT_THROW(r.get("/a/{}", h), std::invalid_argument);
  EXPECT_THROW(r.get("/a/{rest...}/b", h), std::invalid_argument);
  EXPECT_THROW(r.get("/{a}/{a}", h), std::invalid_argument);
  try {
    r.get("/b/{x", h);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("/b/{x"), std::string::npos) << e.what();
  }
}

TEST(HttpServer, AnUnreadBodyOverTheDrainLimitEndsTheConnectionAfterTheResponse) {
  TestServer s(hello_router(), {.max_drain = 1000});
  RawClient c(s.port());
  c.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
         std::string(5000, 'b'));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, ExpectContinueGets100OnlyWhenTheBodyIsReadAndOtherExpectations417) {
  TestServer s(hello_router());
  RawClient c(s.port());
  // The client waits for 100 Continue before its body; the handler answers without reading
  // it, so the final response comes at once, and the connection closes (whether the body
  // will follow is the client's choice).
  c.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  EXPECT_EQ(r.find("100 Continue"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  // An expectation the server cannot meet is 417, without running the handler.
  RawClient e(s.port());
  e.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 200-ok\r\n\r\n");
  std::string r417 = e.read_response();
  EXPECT_EQ(r417.rfind("HTTP/1.1 417 Expectation Failed\r\n", 0), 0u) << r417;
  EXPECT_NE(r417.find("Connection: close\r\n"), std::string::npos) << r417;
  // A handler that reads gets the 100 first.
  RawClient d(s.port());
  d.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(d.read_response(), "HTTP/1.1 100 Continue\r\n\r\n");
  d.send("pong");
  EXPECT_EQ(body_of(d.read_response()), "pong");
}

TEST(HttpServer, ABodyReadAsAStreamArrivesInPiecesAndEndsWithZero) {
  Router r;
  r.post("/count", [](Request& req) -> Task<Response> {
    std::byte piece[1000];
    std::size_t total = 0, longest = 0;
    for (;;) {
      const std::size_t n = co_await req.body().read(piece);
      if (n == 0) break;
      total += n;
      longest = std::max(longest, n);
    }
    co_return Response::text(std::to_string(total) + " bytes, pieces of at most " +
                             std::to_string(longest));
  });
  TestServer s(std::move(r), {.max_body = 10});  // a streamed body is not held to max_body
  RawClient c(s.port());
  c.send("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 250000\r\n\r\n" +
         std::string(250000, 'q'));
  EXPECT_EQ(body_of(c.read_response()), "250000 bytes, pieces of at most 1000");
  std::string chunked = "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 50; ++i) chunked += "7d0\r\n" + std::string(2000, 'c') + "\r\n";
  c.send(chunked + "0\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "100000 bytes, pieces of at most 1000");
}

TEST(HttpServer, HeadOfAStreamedResponseSendsTheHeadWithoutRunningTheProducer) {
  std::atomic<int> runs{0};
  Router r;
  r.get("/stream", [&runs](Request&) -> Task<Response> {
    co_return Response::stream([&runs](weft::http::BodyWriter& w) -> Task<void> {
      runs.fetch_add(1);
      co_await w.write("data");
    });
  });
  TestServer s(std::move(r));
  RawClient c(s.port());
  c.send("HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  // The HEAD response announces a chunked body and ends at its blank line; the GET's
  // response follows at once.
  std::string both = c.read_response();
  const std::string head = both.substr(0, both.find("\r\n\r\n") + 4);
  const std::string get = both.substr(head.size());
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << both;
  EXPECT_EQ(get.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << both;
  EXPECT_NE(get.find("\r\n\r\n4\r\ndata\r\n0\r\n\r\n"), std::string::npos) << both;
  s.stop();
  EXPECT_EQ(runs.load(), 1);
}

TEST(HttpServer, TheDateHeaderIsAnImfFixdate) {
  TestServer s(hello_router());
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string r = c.read_response();
  const std::size_t at = r.find("\r\nDate: ");
  ASSERT_NE(at, std::string::npos) << r;
  const std::string date = r.substr(at + 8, r.find("\r\n", at + 8) - at - 8);
  // "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
  char day[4], month[4];
  int mday, year, h, m, sec;
  ASSERT_EQ(date.size(), 29u) << date;
  EXPECT_EQ(std::sscanf(date.c_str(), "%3s, %d %3s %d %d:%d:%d GMT", day, &mday, month, &year, &h,
                        &m, &sec),
            7)
      << date;
  EXPECT_EQ(date[3], ',');
  EXPECT_GE(year, 2024);
}

TEST(HttpServer, AnAccessLogThatThrowsDoesNotEndTheConnection) {
  weft::http::ServerOptions o;
  o.access_log = [](const weft::http::AccessLogEntry&) { throw std::runtime_error("disk full"); };
  TestServer s(hello_router(), o);
  RawClient c(s.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), "Hello, World!");
}

TEST(HttpServer, BinaryBodiesGoBothWaysAsBytes) {
  TestServer s(hello_router());
  RawClient c(s.port());
  const std::string data("\x00\x01\xff\x7f", 4);
  c.send("POST /reverse HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n" + data);
  const std::string r = c.read_response();
  EXPECT_NE(r.find("Content-Type: application/octet-stream\r\n"), std::string::npos) << r;
  EXPECT_EQ(body_of(r), std::string("\x7f\xff\x01\x00", 4));
}

TEST(HttpRouter, DispatchesADefaultMadeRequestWithAnEmptyBody) {
  // A Request made outside a server, as a handler's unit test may: no path, no body.
  Router r;
  r.get("/", [](Request&) -> Task<Response> { co_return Response::text("root"); });
  const Response resp = weft::run([&r]() -> Task<Response> {
    Request req;
    EXPECT_EQ(co_await req.text(), "");
    std::byte b[4];
    EXPECT_EQ(co_await req.body().read(b), 0u);
    co_return co_await r.dispatch(req);
  }());
  EXPECT_EQ(resp.status(), 404);  // its path is empty: no route
}
