// http::Server over the streams other than one plain TCP listener: HTTPS through
// tls::server_wrap (curl verifying a CA made at test time), a Unix-domain socket, and one
// SO_REUSEPORT listener per worker.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <weft/io/tls.hpp>

#include "http_test_util.hpp"
#include "tls_test_certs.hpp"

using weft::Task;
using weft::http::Request;
using weft::http::Response;
using weft::http::Router;
using weft::test::run_command;
using weft::test::TestServer;

namespace {

Router router() {
  Router r;
  r.get("/hello", [](Request&) -> Task<Response> { co_return Response::text("Hello, World!"); });
  r.post("/echo",
         [](Request& req) -> Task<Response> { co_return Response::text(co_await req.text()); });
  r.get("/file", [](Request&) -> Task<Response> {
    co_return Response::file(::testing::TempDir() + "/http_transport_file.txt");
  });
  return r;
}

std::string curl(const std::string& args) {
  if (!weft::test::require_program("/usr/bin/curl")) return "";
  return run_command("/usr/bin/curl -s -S --max-time 20 " + args + " 2>&1").out;
}

}  // namespace

TEST(HttpServerTransport, ServesHttpsThroughTheTlsWrapStep) {
  weft_test::TestCa ca("weft test CA");
  weft_test::CertAndKey leaf = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
  const std::string ca_file = ::testing::TempDir() + "/http_transport_ca.pem";
  {
    std::ofstream f(ca_file);
    f << ca.cert_pem();
  }
  {
    std::ofstream f(::testing::TempDir() + "/http_transport_file.txt");
    f << std::string(100000, 'f');
  }
  weft::http::ServerOptions o;
  o.wrap = weft::tls::server_wrap(weft::tls::Context::server(
      {.certificate_chain_pem = leaf.cert_pem, .private_key_pem = leaf.key_pem}));
  TestServer s(router(), o);
  const std::string base = "https://localhost:" + std::to_string(s.port());
  const std::string resolve = "--resolve localhost:" + std::to_string(s.port()) + ":127.0.0.1 ";
  EXPECT_EQ(curl("--cacert " + ca_file + " " + resolve + base + "/hello " + base + "/hello"),
            "Hello, World!Hello, World!");
  EXPECT_EQ(curl("--cacert " + ca_file + " " + resolve + "--data-binary hi " + base + "/echo"),
            "hi");
  // A file over TLS goes through reads and writes (no sendfile).
  EXPECT_EQ(curl("--cacert " + ca_file + " " + resolve + base + "/file"), std::string(100000, 'f'));
  std::filesystem::remove(ca_file);
}

TEST(HttpServerTransport, ServesAUnixDomainSocket) {
  const std::string path =
      ::testing::TempDir() + "/http_transport_" + std::to_string(::getpid()) + ".sock";
  std::filesystem::remove(path);
  TestServer s(router(), {}, 2, path);
  EXPECT_EQ(curl("--unix-socket " + path + " http://localhost/hello"), "Hello, World!");
  s.stop();
  std::filesystem::remove(path);
}

TEST(HttpServerTransport, ServesWithOneReusePortListenerPerWorker) {
  TestServer s(router(), {.reuse_port = true}, 2);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(curl(s.url("/hello") + " " + s.url("/hello")), "Hello, World!Hello, World!");
  }
}

TEST(HttpServerTransport, EachReusePortListenersConnectionsAreServedByItsOwnWorker) {
  TestServer s(router(), {.reuse_port = true}, 2);
  // 32 connections from distinct ports: the kernel's hash gives each listener some (all on
  // one listener has odds of 2 in 2^32).
  std::vector<std::unique_ptr<weft::test::RawClient>> clients;
  for (int i = 0; i < 32; ++i) {
    clients.push_back(std::make_unique<weft::test::RawClient>(s.port()));
  }
  // Two rounds: the first request of a connection is read without waiting; the second
  // arrives on a connection that waits, as an event of the epoll it joined at accept.
  for (int round = 0; round < 2; ++round) {
    for (auto& c : clients) c->send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    for (auto& c : clients) EXPECT_NE(c->read_response().find("Hello, World!"), std::string::npos);
  }
  // Each listener gave its connections to its own worker's epoll, so both reactors
  // delivered events; with both listeners on the worker where the accept loops ran, the
  // other worker took no I/O at all and only stole tasks.
  const auto m = s.runtime().metrics().workers;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_GT(m[0].io_events, 0u);
  EXPECT_GT(m[1].io_events, 0u);
}
