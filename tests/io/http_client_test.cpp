// weft::http::Client: URLs, then requests against real peers started by the suite — nginx
// (static files, redirects, chunked responses through its proxy, keep-alive reuse counted
// from its access log, https with a test CA) and a Python aiohttp server (chunked streaming,
// slow responses for the timeouts, redirects, request bodies, a server that closes each
// keep-alive connection after one response, the per-host limit).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <weft/io/http/client.hpp>
#include <weft/io/tls.hpp>
#include <weft/weft.hpp>

#include "tls_test_certs.hpp"

extern char** environ;

using namespace std::chrono_literals;
namespace http = weft::http;
using http::Client;
using http::ClientResponse;
using http::Url;

namespace {

// ---- URLs --------------------------------------------------------------------------------

TEST(HttpUrl, SplitsAnHttpUrlIntoHostPortPathAndQuery) {
  Url u = Url::parse("HTTP://Example.COM:8080/a/b%2Fc?x=1&y=%20#frag");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/a/b%2Fc");
  EXPECT_EQ(u.query, "x=1&y=%20");
  EXPECT_EQ(u.target(), "/a/b%2Fc?x=1&y=%20");
  EXPECT_EQ(u.authority(), "example.com:8080");
}

TEST(HttpUrl, DefaultsThePortAndPathBySchemeAndBracketsIpv6) {
  Url a = Url::parse("https://example.com");
  EXPECT_EQ(a.port, 443);
  EXPECT_EQ(a.path, "/");
  EXPECT_TRUE(a.is_tls());
  Url b = Url::parse("http://[::1]:9000/x");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 9000);
  EXPECT_EQ(b.authority(), "[::1]:9000");
  EXPECT_EQ(b.to_string(), "http://[::1]:9000/x");
}

TEST(HttpUrl, RefusesOtherSchemesAndMalformedUrlsNamingTheFault) {
  auto message = [](const char* text) {
    try {
      (void)Url::parse(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("ftp://example.com/").find("unsupported scheme \"ftp\""), std::string::npos);
  EXPECT_NE(message("example.com/").find("not an absolute"), std::string::npos);
  EXPECT_NE(message("http:///path").find("no host"), std::string::npos);
  EXPECT_NE(message("http://h:99999/").find("invalid port"), std::string::npos);
  EXPECT_NE(message("http://u:p@h/").find("credentials"), std::string::npos);
  EXPECT_NE(message("http://[::1/").find("IPv6"), std::string::npos);
  EXPECT_NE(message("http://h/a b").find("space"), std::string::npos);
}

TEST(HttpUrl, ResolvesRedirectLocationsAgainstTheBase) {
  Url base = Url::parse("http://h:81/a/b/c?q");
  EXPECT_EQ(base.resolve("https://o/x").to_string(), "https://o/x");
  EXPECT_EQ(base.resolve("//o2/y").to_string(), "http://o2/y");
  EXPECT_EQ(base.resolve("/z?k=v").to_string(), "http://h:81/z?k=v");
  EXPECT_EQ(base.resolve("d").to_string(), "http://h:81/a/b/d");
  EXPECT_EQ(base.resolve("../e").to_string(), "http://h:81/a/e");
  EXPECT_EQ(base.resolve("?n").to_string(), "http://h:81/a/b/c?n");
}

// ---- Peers -------------------------------------------------------------------------------

/// Fails the test unless `program` is installed (tools/setup installs it).
bool have(const char* program) {
  if (std::filesystem::exists(program)) return true;
  ADD_FAILURE() << program << " is missing: tools/setup installs it";
  return false;
}

/// A peer process started with posix_spawn; its stdout's first line is read at start.
struct Peer {
  pid_t pid = -1;
  int stdin_fd = -1;
  std::string first_line;

  void start(const std::vector<std::string>& args, const std::string& err_file,
             bool read_line = true) {
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + args[0]);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    stdin_fd = in[1];
    char c;
    while (read_line && read(out[0], &c, 1) == 1 && c != '\n') first_line += c;
    close(out[0]);
  }
  void stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
      pid = -1;
    }
    if (stdin_fd >= 0) close(stdin_fd);
    stdin_fd = -1;
  }
};

std::uint16_t free_port() {
  auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  return l.local_address().port();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// The suite's peers: the Python server and nginx (plain and TLS, proxying /chunked to
/// Python), and a CA whose certificate nginx's is.
struct Peers {
  std::filesystem::path dir;
  Peer python, nginx;
  std::uint16_t py_port = 0, raw_port = 0, nginx_port = 0, nginx_tls_port = 0;
  std::string ca_pem;

  void start() {
    dir = std::filesystem::temp_directory_path() / ("weft-http-client-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir / "root");
    std::ofstream(dir / "root" / "hello.txt") << "hello from nginx\n";
    python.start(
        {"/usr/bin/python3", std::string(WEFT_SOURCE_DIR) + "/tests/io/http_client_peer.py"},
        (dir / "python.err").string());
    std::istringstream line(python.first_line);
    std::string word;
    line >> word >> py_port >> raw_port;
    if (word != "listening") {
      throw std::runtime_error("the Python peer did not start: " +
                               slurp((dir / "python.err").string()));
    }
    weft_test::TestCa ca("weft http client test CA");
    ca_pem = ca.cert_pem();
    weft_test::CertAndKey server = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
    std::ofstream(dir / "cert.pem") << server.cert_pem;
    std::ofstream(dir / "key.pem") << server.key_pem;
    nginx_port = free_port();
    nginx_tls_port = free_port();
    const std::string d = dir.string();
    std::ofstream(dir / "nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << d << "/nginx.pid;\n"
        << "error_log " << d << "/error.log warn;\nevents { worker_connections 1024; }\n"
        << "http {\n  log_format conns '$connection $request';\n"
        << "  access_log " << d << "/access.log conns;\n"
        << "  client_body_temp_path " << d << "/cb; proxy_temp_path " << d << "/px;\n"
        << "  fastcgi_temp_path " << d << "/fc; uwsgi_temp_path " << d << "/uw; scgi_temp_path "
        << d << "/sc;\n  keepalive_requests 100000;\n"
        << "  server {\n    listen 127.0.0.1:" << nginx_port << ";\n"
        << "    listen 127.0.0.1:" << nginx_tls_port << " ssl;\n"
        << "    ssl_certificate " << d << "/cert.pem; ssl_certificate_key " << d << "/key.pem;\n"
        << "    root " << d << "/root;\n"
        << "    location = /moved { return 301 /hello.txt; }\n"
        << "    location = /chunked { proxy_pass http://127.0.0.1:" << py_port << "/chunked; "
        << "proxy_http_version 1.1; proxy_buffering off; chunked_transfer_encoding on; }\n"
        << "  }\n}\n";
    // nginx prints nothing when it starts: a line from a shell after the port answers.
    nginx.start({"/usr/sbin/nginx", "-e", d + "/error.log", "-c", d + "/nginx.conf"},
                (dir / "nginx.err").string(), false);
    for (int i = 0; i < 500; ++i) {
      try {
        weft::run([](std::uint16_t p) -> weft::Task<void> {
          auto s =
              co_await weft::net::TcpStream::connect(weft::net::SocketAddress::ip("127.0.0.1", p));
        }(nginx_port));
        return;
      } catch (const std::system_error&) {
        usleep(10000);  // nginx starting: polled with a bound, not a race assumption
      }
    }
    throw std::runtime_error("nginx did not start: " + slurp(d + "/error.log"));
  }
  void stop() {
    nginx.stop();
    python.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string py(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(py_port) + path;
  }
  std::string raw(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(raw_port) + path;
  }
  std::string ngx(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(nginx_port) + path;
  }
  std::string ngx_tls(const std::string& path) const {
    return "https://localhost:" + std::to_string(nginx_tls_port) + path;
  }
  /// The distinct connection numbers nginx logged for requests of `request_prefix`.
  std::set<std::string> nginx_connections(const std::string& request_prefix,
                                          std::size_t& lines) const {
    std::set<std::string> conns;
    lines = 0;
    std::istringstream log(slurp((dir / "access.log").string()));
    std::string line;
    while (std::getline(log, line)) {
      std::size_t sp = line.find(' ');
      if (line.compare(sp + 1, request_prefix.size(), request_prefix) == 0) {
        conns.insert(line.substr(0, sp));
        ++lines;
      }
    }
    return conns;
  }
};

Peers* peers = nullptr;

weft::RuntimeOptions workers(std::size_t n) {
  weft::RuntimeOptions o;
  o.workers = n;
  return o;
}

class HttpClient : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have("/usr/bin/python3") || !have("/usr/sbin/nginx")) return;
    peers = new Peers;
    peers->start();
  }
  static void TearDownTestSuite() {
    if (peers) peers->stop();
    delete peers;
    peers = nullptr;
  }
  void SetUp() override {
    if (!peers) GTEST_FAIL() << "the peers did not start";
  }
};

// ---- Against nginx -----------------------------------------------------------------------

TEST_F(HttpClient, GetsAStaticFileFromNginx) {
  auto [status, type, body] =
      weft::run([]() -> weft::Task<std::tuple<int, std::string, std::string>> {
        Client client;
        ClientResponse r = co_await client.get(peers->ngx("/hello.txt"));
        std::string type(r.headers().get_or("content-type", ""));
        co_return std::tuple(r.status(), type, co_await r.text());
      }());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(type, "text/plain");
  EXPECT_EQ(body, "hello from nginx\n");
}

TEST_F(HttpClient, ReusesOneKeepAliveConnectionForSequentialRequests) {
  const auto made = weft::run([]() -> weft::Task<std::uint64_t> {
    Client client;
    for (int i = 0; i < 10; ++i) {
      ClientResponse r = co_await client.get(peers->ngx("/hello.txt?reuse"));
      EXPECT_EQ(co_await r.text(), "hello from nginx\n");
    }
    co_return client.connections_made();
  }());
  EXPECT_EQ(made, 1u);
  // nginx writes a request's log line after sending its response: wait (bounded) for all 10.
  std::size_t lines = 0;
  std::set<std::string> conns;
  for (int i = 0; i < 500 && lines < 10; ++i) {
    conns = peers->nginx_connections("GET /hello.txt?reuse", lines);
    if (lines < 10) usleep(10000);
  }
  EXPECT_EQ(lines, 10u);
  EXPECT_EQ(conns.size(), 1u);
}

TEST_F(HttpClient, FollowsNginxsRedirect) {
  auto [status, redirects, body] = weft::run([]() -> weft::Task<std::tuple<int, int, std::string>> {
    Client client;
    ClientResponse r = co_await client.get(peers->ngx("/moved"));
    co_return std::tuple(r.status(), r.redirects(), co_await r.text());
  }());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(redirects, 1);
  EXPECT_EQ(body, "hello from nginx\n");
}

TEST_F(HttpClient, ReadsAChunkedResponseThroughNginxsProxy) {
  auto [te, body] = weft::run([]() -> weft::Task<std::pair<std::string, std::string>> {
    Client client;
    ClientResponse r = co_await client.get(peers->ngx("/chunked?n=20"));
    std::string te(r.headers().get_or("Transfer-Encoding", ""));
    co_return std::pair(te, co_await r.text());
  }());
  EXPECT_EQ(te, "chunked");
  std::string want;
  for (int i = 0; i < 20; ++i) want += "chunk " + std::to_string(i) + ";";
  EXPECT_EQ(body, want);
}

TEST_F(HttpClient, FetchesOverHttpsWithTheTestCa) {
  const std::string body = weft::run([]() -> weft::Task<std::string> {
    Client client({.tls = weft::tls::Context::client({.ca_pem = peers->ca_pem})});
    ClientResponse r = co_await client.get(peers->ngx_tls("/hello.txt"));
    co_return co_await r.text();
  }());
  EXPECT_EQ(body, "hello from nginx\n");
}

TEST_F(HttpClient, RefusesAServerCertificateFromAnUnknownCaNamingTheUrl) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client;  // the system's trust store, which does not hold the test CA
    try {
      (void)co_await client.get(peers->ngx_tls("/hello.txt"));
    } catch (const http::ClientConnectionError& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("GET https://localhost:"), std::string::npos) << error;
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
}

// ---- Against aiohttp ---------------------------------------------------------------------

TEST_F(HttpClient, StreamsAChunkedResponseWithRead) {
  const std::string body = weft::run([]() -> weft::Task<std::string> {
    Client client;
    ClientResponse r = co_await client.get(peers->py("/chunked?n=50"));
    std::string got;
    std::array<std::byte, 7> buf;  // smaller than a chunk: pieces of each
    for (;;) {
      std::size_t n = co_await r.read(buf);
      if (n == 0) break;
      got.append(reinterpret_cast<const char*>(buf.data()), n);
    }
    EXPECT_TRUE(r.body_complete());
    co_return got;
  }());
  std::string want;
  for (int i = 0; i < 50; ++i) want += "chunk " + std::to_string(i) + ";";
  EXPECT_EQ(body, want);
}

TEST_F(HttpClient, ReadsALargeBodyWhole) {
  const std::vector<std::byte> body = weft::run([]() -> weft::Task<std::vector<std::byte>> {
    Client client;
    ClientResponse r = co_await client.get(peers->py("/big?n=300000"));
    co_return co_await r.bytes();
  }());
  ASSERT_EQ(body.size(), 300000u);
  for (std::size_t i = 0; i < body.size(); i += 997) {
    ASSERT_EQ(static_cast<int>(body[i]), static_cast<int>(i % 251));
  }
}

TEST_F(HttpClient, TextOverItsLimitThrowsLengthError) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client;
    ClientResponse r = co_await client.get(peers->py("/big?n=5000"));
    try {
      (void)co_await r.text(1000);
    } catch (const std::length_error& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("over the limit"), std::string::npos) << error;
}

TEST_F(HttpClient, PostsABodyWithContentLengthAndAStreamedOneChunked) {
  auto [a, b] = weft::run([]() -> weft::Task<std::pair<std::string, std::string>> {
    Client client;
    http::RequestOptions with_header{.headers = {{"X-Test", "1"}}};
    ClientResponse r1 =
        co_await client.post(peers->py("/echo"), std::string("payload"), std::move(with_header));
    std::string t1 = co_await r1.text();
    ClientResponse r2 = co_await client.post(
        peers->py("/echo"), http::RequestBody::stream([]() -> weft::AsyncGenerator<std::string> {
          co_yield std::string("str");
          co_yield std::string("");
          co_yield std::string("eamed");
        }));
    co_return std::pair(t1, co_await r2.text());
  }());
  EXPECT_EQ(a, "POST te= cl=7 x=1 body=payload");
  EXPECT_EQ(b, "POST te=chunked cl= x= body=streamed");
}

TEST_F(HttpClient, Redirect303TurnsAPostIntoAGetAnd307KeepsIt) {
  auto [a, b] = weft::run([]() -> weft::Task<std::pair<std::string, std::string>> {
    Client client;
    ClientResponse r1 = co_await client.post(peers->py("/redirect/2?code=303"), std::string("x"));
    std::string t1 = co_await r1.text();
    ClientResponse r2 =
        co_await client.post(peers->py("/redirect/2?code=307"), std::string("kept"));
    co_return std::pair(t1, co_await r2.text());
  }());
  EXPECT_EQ(a, "GET te= cl= x= body=");
  EXPECT_EQ(b, "POST te= cl=4 x= body=kept");
}

TEST_F(HttpClient, TooManyRedirectsIsAClearError) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client({.max_redirects = 3});
    try {
      (void)co_await client.get(peers->py("/loop"));
    } catch (const http::TooManyRedirects& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("/loop: more than 3 redirects"), std::string::npos) << error;
}

TEST_F(HttpClient, TheTotalTimeoutNamesTheUrlAndTheTimeout) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client({.total_timeout = 200ms});
    try {
      (void)co_await client.get(peers->py("/slow?s=30"));
    } catch (const weft::TimeoutError& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("GET http://127.0.0.1:"), std::string::npos) << error;
  EXPECT_NE(error.find("/slow?s=30: total timeout"), std::string::npos) << error;
}

TEST_F(HttpClient, TheReadTimeoutBoundsEachWaitForTheBody) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client({.read_timeout = 200ms});
    ClientResponse r = co_await client.get(peers->py("/slow-body"));
    try {
      (void)co_await r.text();
    } catch (const weft::TimeoutError& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("/slow-body: read timeout"), std::string::npos) << error;
}

TEST_F(HttpClient, AConnectionErrorNamesTheUrl) {
  const std::uint16_t port = free_port();  // nothing listens there
  const std::string error = weft::run([](std::uint16_t port) -> weft::Task<std::string> {
    Client client;
    try {
      (void)co_await client.get("http://127.0.0.1:" + std::to_string(port) + "/x");
    } catch (const http::ClientConnectionError& e) {
      EXPECT_EQ(e.code(), std::errc::connection_refused);
      co_return e.what();
    }
    co_return "no error";
  }(port));
  EXPECT_NE(error.find("GET http://127.0.0.1:" + std::to_string(port) + "/x: "), std::string::npos)
      << error;
}

TEST_F(HttpClient, RetriesAnIdempotentRequestWhenTheServerClosedTheKeptConnection) {
  auto [bodies, made] =
      weft::run([]() -> weft::Task<std::pair<std::vector<std::string>, std::uint64_t>> {
        Client client({.limit_per_host = 1});
        std::vector<std::string> bodies;
        for (int i = 0; i < 3; ++i) {
          ClientResponse r = co_await client.get(peers->raw("/"));
          bodies.push_back(co_await r.text());
        }
        co_return std::pair(bodies, client.connections_made());
      }());
  // Each request after the first found its kept connection closed and went on a new one.
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(made, 3u);
  for (const std::string& b : bodies) EXPECT_EQ(b.rfind("raw connection ", 0), 0u) << b;
}

TEST_F(HttpClient, HonoursThePerHostLimitUnderConcurrentRequests) {
  const std::string stats = weft::run(
      []() -> weft::Task<std::string> {
        Client client({.limit_per_host = 2});
        std::vector<weft::JoinHandle<int>> hs;
        for (int i = 0; i < 8; ++i) {
          hs.push_back(weft::spawn([](Client& c) -> weft::Task<int> {
            ClientResponse r = co_await c.get(peers->py("/concurrent"));
            (void)co_await r.text();
            co_return r.status();
          }(client)));
        }
        for (auto& h : hs) EXPECT_EQ(co_await h, 200);
        EXPECT_LE(client.connections_made(), 2u);
        ClientResponse r = co_await client.get(peers->py("/stats"));
        co_return co_await r.text();
      }(),
      workers(2));
  const int max_in_flight = std::stoi(stats.substr(stats.find('=') + 1));
  EXPECT_GE(max_in_flight, 1) << stats;
  EXPECT_LE(max_in_flight, 2) << stats;
}

TEST_F(HttpClient, ADroppedResponseWithItsBodyBufferedKeepsTheConnection) {
  auto [kept, made] = weft::run([]() -> weft::Task<std::pair<std::uint64_t, std::uint64_t>> {
    Client client({.limit_per_host = 1});
    const std::string keep = peers->raw("/keep");
    for (int i = 0; i < 3; ++i) {
      ClientResponse r = co_await client.get(keep);
      EXPECT_EQ(r.status(), 200);
    }  // dropped unread: the body came with the head, so it is buffered already
    ClientResponse again = co_await client.get(keep);
    EXPECT_EQ((co_await again.text()).rfind("raw connection ", 0), 0u);
    const std::uint64_t kept = client.connections_made();
    const std::string big_url = peers->py("/big?n=1000000");
    ClientResponse big = co_await client.get(big_url);
    big.release();  // most of it unread: the connection is closed
    const std::string hello = peers->py("/hello");
    ClientResponse r = co_await client.get(hello);
    EXPECT_EQ(co_await r.text(), "hello from aiohttp");
    co_return std::pair(kept, client.connections_made());
  }());
  EXPECT_EQ(kept, 1u);
  EXPECT_EQ(made, 3u);  // the raw server's one, then /big's (closed) and /hello's
}

TEST_F(HttpClient, ResponsesSayingCloseOrHttp10WithoutKeepAliveAreNotReused) {
  const std::vector<std::uint64_t> made = weft::run([]() -> weft::Task<std::vector<std::uint64_t>> {
    Client client({.limit_per_host = 1});
    std::vector<std::uint64_t> made;
    // The server keeps these connections open: only the responses tell the client.
    for (const char* path : {"/close", "/close", "/http10", "/http10"}) {
      const std::string url = peers->raw(path);
      ClientResponse r = co_await client.get(url);
      EXPECT_EQ((co_await r.text()).rfind("raw connection ", 0), 0u);
      made.push_back(client.connections_made());
    }
    co_return made;
  }());
  EXPECT_EQ(made, (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(HttpClient, TheConnectTimeoutCoversTheTlsHandshake) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client(
        {.connect_timeout = 200ms, .tls = weft::tls::Context::client({.ca_pem = peers->ca_pem})});
    // The raw server accepts, then never answers the ClientHello.
    const std::string url = "https://127.0.0.1:" + std::to_string(peers->raw_port) + "/silent";
    try {
      (void)co_await client.get(url);
    } catch (const weft::TimeoutError& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("GET https://127.0.0.1:" + std::to_string(peers->raw_port) +
                       "/silent: connect timeout"),
            std::string::npos)
      << error;
}

TEST_F(HttpClient, TheTotalLimitBoundsRequestsAcrossHosts) {
  const std::string stats = weft::run(
      []() -> weft::Task<std::string> {
        Client client({.limit = 1});
        const std::string reset = peers->py("/stats?reset=1");
        ClientResponse reset_response = co_await client.get(reset);
        (void)co_await reset_response.text();
        // 127.0.0.1 and localhost are two hosts to the client: two pools, one limit.
        const std::string port = std::to_string(peers->py_port);
        std::vector<weft::JoinHandle<int>> hs;
        for (int i = 0; i < 6; ++i) {
          std::string url =
              (i % 2 ? "http://localhost:" : "http://127.0.0.1:") + port + "/concurrent";
          hs.push_back(weft::spawn([](Client& c, std::string url) -> weft::Task<int> {
            ClientResponse r = co_await c.get(url);
            (void)co_await r.text();
            co_return r.status();
          }(client, std::move(url))));
        }
        for (auto& h : hs) EXPECT_EQ(co_await h, 200);
        const std::string stats_url = peers->py("/stats");
        ClientResponse r = co_await client.get(stats_url);
        co_return co_await r.text();
      }(),
      workers(2));
  EXPECT_EQ(stats.rfind("max_in_flight=1 ", 0), 0u) << stats;
}

TEST_F(HttpClient, FetchesFromAnIpv6LiteralWithTheBracketedHostField) {
  const std::string body = weft::run([]() -> weft::Task<std::string> {
    auto listener = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("::1", 0));
    const std::uint16_t port = listener.local_address().port();
    // A one-request responder that answers with the Host field it was sent.
    auto server = weft::spawn([](weft::net::TcpListener& l) -> weft::Task<void> {
      auto [tcp, peer] = co_await l.accept();
      weft::net::BufferedReader<weft::net::TcpStream> r(tcp);
      const std::string head = co_await r.read_until("\r\n\r\n");
      const std::size_t at = head.find("Host: ") + 6;
      const std::string host = head.substr(at, head.find("\r\n", at) - at);
      const std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(host.size()) + "\r\n\r\n" + host;
      co_await tcp.write_all(reply);
    }(listener));
    Client client;
    const std::string url = "http://[::1]:" + std::to_string(port) + "/v6";
    ClientResponse r = co_await client.get(url);
    std::string got = co_await r.text();
    co_await server;
    co_return got + " " + std::to_string(port);
  }());
  const std::string port = body.substr(body.rfind(' ') + 1);
  EXPECT_EQ(body, "[::1]:" + port + " " + port);
}

TEST_F(HttpClient, HeadersOutliveTheConnectionGoingBackToThePool) {
  auto [small, large] = weft::run([]() -> weft::Task<std::pair<std::string, std::string>> {
    Client client({.limit_per_host = 1});
    const std::string small_url = peers->ngx("/hello.txt");
    ClientResponse a = co_await client.get(small_url);
    (void)co_await a.text();  // the connection is back in the pool: the head was kept
    const std::string large_url = peers->py("/many-headers");
    ClientResponse b = co_await client.get(large_url);
    (void)co_await b.text();
    // Both connections have served another request since.
    ClientResponse c = co_await client.get(small_url);
    (void)co_await c.text();
    ClientResponse d = co_await client.get(large_url);
    (void)co_await d.text();
    int xh = 0;
    for (const http::HeaderField& f : b.headers()) xh += f.name.rfind("X-H-", 0) == 0 ? 1 : 0;
    std::string large = std::to_string(xh) + " " + std::string(b.reason());
    for (int i : {0, 20, 39}) {
      large += " " + std::string(b.headers().get_or("x-h-" + std::to_string(i), "missing"));
    }
    co_return std::pair(
        std::string(a.reason()) + " " + std::string(a.headers().get_or("content-type", "missing")),
        large);
  }());
  EXPECT_EQ(small, "OK text/plain");
  EXPECT_EQ(large, "40 OK value 0 value 20 value 39");
}

TEST_F(HttpClient, A307ResendsAStreamedBodyByCallingItsFunctionAgain) {
  auto [body, calls] = weft::run([]() -> weft::Task<std::pair<std::string, int>> {
    Client client;
    int calls = 0;
    http::RequestBody stream = http::RequestBody::stream([&calls]() {
      ++calls;
      return []() -> weft::AsyncGenerator<std::string> { co_yield std::string("again"); }();
    });
    const std::string url = peers->py("/redirect/1?code=307");
    ClientResponse r = co_await client.post(url, std::move(stream));
    co_return std::pair(co_await r.text(), calls);
  }());
  EXPECT_EQ(body, "POST te=chunked cl= x= body=again");
  EXPECT_EQ(calls, 3);  // /redirect/1, /redirect/0, /echo
}

TEST_F(HttpClient, AHeadResponseHasNoBodyAndKeepsItsConnection) {
  auto [length, complete, made] =
      weft::run([]() -> weft::Task<std::tuple<std::string, bool, std::uint64_t>> {
        Client client;
        const std::string url = peers->ngx("/hello.txt");
        ClientResponse head = co_await client.request(http::Method::kHead, url);
        std::string length(head.headers().get_or("Content-Length", ""));
        const bool complete = head.body_complete();
        ClientResponse get = co_await client.get(url);
        EXPECT_EQ(co_await get.text(), "hello from nginx\n");
        co_return std::tuple(length, complete, client.connections_made());
      }());
  EXPECT_EQ(length, "17");
  EXPECT_TRUE(complete);
  EXPECT_EQ(made, 1u);
}

TEST_F(HttpClient, ABodyEndingWithTheConnectionIsReadToTheEndAndNotReused) {
  auto [body, made] = weft::run([]() -> weft::Task<std::pair<std::string, std::uint64_t>> {
    Client client({.limit_per_host = 1});
    const std::string url = peers->raw("/eof");
    ClientResponse a = co_await client.get(url);
    std::string body = co_await a.text();
    ClientResponse b = co_await client.get(url);
    (void)co_await b.text();
    co_return std::pair(body, client.connections_made());
  }());
  EXPECT_EQ(body.rfind("until the end, connection ", 0), 0u) << body;
  EXPECT_EQ(made, 2u);
}

TEST_F(HttpClient, AMalformedResponseIsAClientErrorNamingTheUrlAndTheFault) {
  const std::string error = weft::run([]() -> weft::Task<std::string> {
    Client client;
    const std::string url = peers->raw("/garbage");
    try {
      (void)co_await client.get(url);
    } catch (const http::ClientError& e) {
      co_return e.what();
    }
    co_return "no error";
  }());
  EXPECT_NE(error.find("/garbage: invalid response: "), std::string::npos) << error;
}

TEST_F(HttpClient, SendsDefaultHeadersUnlessTheRequestGivesItsOwn) {
  auto [a, b] = weft::run([]() -> weft::Task<std::pair<std::string, std::string>> {
    Client client({.default_headers = {{"X-Test", "default"}}});
    const std::string url = peers->py("/echo");
    ClientResponse r1 = co_await client.get(url);
    std::string t1 = co_await r1.text();
    http::RequestOptions own;
    own.headers.add("x-test", "own");
    ClientResponse r2 = co_await client.get(url, std::move(own));
    co_return std::pair(t1, co_await r2.text());
  }());
  EXPECT_EQ(a, "GET te= cl= x=default body=");
  EXPECT_EQ(b, "GET te= cl= x=own body=");
}

}  // namespace

// ---- a kept connection the server closed while it sat idle ------------------------------

/// Serves `n` connections on `l`, one POST each: reads the head (the body is a few bytes in
/// the same segment), answers 200 "served K" saying keep-alive, then closes the connection
/// (as a server whose keep-alive timeout ran out) and sets `closed`.
weft::Task<void> answer_once_then_close(weft::net::TcpListener& l, int n, weft::Event& closed) {
  for (int k = 1; k <= n; ++k) {
    auto [stream, peer] = co_await l.accept();
    std::string got;
    std::array<std::byte, 4096> buf{};
    while (got.find("\r\n\r\n") == std::string::npos) {
      std::size_t r = co_await stream.read(buf);
      if (r == 0) co_return;
      got.append(reinterpret_cast<const char*>(buf.data()), r);
    }
    const std::string body = "served " + std::to_string(k);
    co_await stream.write_all("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    stream.close();
    closed.set();
  }
}

TEST(HttpClientIdleCheck, APostAfterTheServerClosedTheIdleConnectionGoesOnANewOne) {
  weft::run(
      []() -> weft::Task<void> {
        auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
        const std::string url = "http://127.0.0.1:" + std::to_string(l.local_address().port());
        weft::Event closed;
        auto server = weft::spawn(answer_once_then_close(l, 2, closed));
        std::exception_ptr failure;
        try {
          Client client;
          ClientResponse first = co_await client.post(url + "/a", http::RequestBody("one"));
          EXPECT_EQ(co_await first.text(), "served 1");
          co_await closed.wait();    // the connection's FIN is in the client's socket now
          co_await weft::sleep(2s);  // idle past the check's threshold (virtual clock)
          // A POST is not retried on a failed reused connection: it reaches the server only
          // if the stale connection was found out before the request went out.
          ClientResponse second = co_await client.post(url + "/b", http::RequestBody("two"));
          EXPECT_EQ(co_await second.text(), "served 2");
          EXPECT_EQ(client.connections_made(), 2u);
        } catch (...) {
          failure = std::current_exception();
        }
        server.cancel();  // (on a failure: it still waits on the listener)
        try {
          co_await server;
        } catch (const weft::CancelledError&) {
        }
        if (failure) std::rethrow_exception(failure);
      }(),
      {.workers = 1, .clock = weft::ClockKind::Virtual});
}
