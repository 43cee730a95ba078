// weft::tls: echo and large transfers both ways between a weft client and a weft server,
// certificate and host name failures with their reasons, ALPN and SNI, handshakes cancelled
// by timeouts, peers that end without close_notify, misuse, and interop with real peers
// (openssl s_server and s_client, curl). Certificates are made when the suite starts.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <weft/io/tls.hpp>
#include <weft/weft.hpp>

#include "tls_test_certs.hpp"

using namespace std::chrono_literals;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;
namespace tls = weft::tls;

namespace {

TcpListener listen_local() {
  return TcpListener::bind(SocketAddress::ip("127.0.0.1", 0));
}

weft::RuntimeOptions workers(std::size_t n) {
  weft::RuntimeOptions o;
  o.workers = n;
  return o;
}

/// The number of fds this process has open.
std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Everything `s` reads until close_notify.
weft::Task<std::string> read_to_end(tls::Stream& s) {
  std::string got;
  std::vector<std::byte> buf(16 * 1024);
  for (;;) {
    const std::size_t n = co_await s.read(buf);
    if (n == 0) co_return got;
    got.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

/// The byte at `i` of a pattern that no shifted copy of itself matches soon.
std::byte pattern_at(std::size_t i) {
  return static_cast<std::byte>((i * 7 + i / 251) & 0xff);
}

/// Writes `total` bytes of the pattern in chunks of `chunk`, then close_notify.
weft::Task<void> write_pattern(tls::Stream& s, std::size_t total, std::size_t chunk) {
  std::vector<std::byte> buf(chunk);
  for (std::size_t off = 0; off < total; off += chunk) {
    const std::size_t n = std::min(chunk, total - off);
    for (std::size_t i = 0; i < n; ++i) buf[i] = pattern_at(off + i);
    co_await s.write_all(std::span(buf).first(n));
  }
  co_await s.finish_writing();
}

/// Reads until close_notify; the count of bytes, checking each against the pattern.
weft::Task<std::size_t> read_pattern(tls::Stream& s) {
  std::vector<std::byte> buf(40 * 1024);
  std::size_t got = 0;
  for (;;) {
    const std::size_t n = co_await s.read(buf);
    if (n == 0) co_return got;
    for (std::size_t i = 0; i < n; ++i) {
      if (buf[i] != pattern_at(got + i)) {
        ADD_FAILURE() << "byte " << got + i << " differs";
        co_return got;
      }
    }
    got += n;
  }
}

/// Writes the pattern in one task while another reads it from the peer: SSL_write and
/// SSL_read of one SSL object from two tasks, which two workers may run at once. The count
/// read.
weft::Task<std::size_t> both_ways(tls::Stream& s, std::size_t total, std::size_t chunk) {
  auto writer = weft::spawn(write_pattern(s, total, chunk));
  auto reader = weft::spawn(read_pattern(s));
  co_await writer;
  co_return co_await reader;
}

/// The certificates every test uses, made once, in PEM and in files (for the tools).
struct Certs {
  weft_test::TestCa ca{"weft test CA"};
  weft_test::TestCa other_ca{"another CA"};
  weft_test::CertAndKey good = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1");
  weft_test::CertAndKey expired = ca.issue("localhost", "DNS:localhost,IP:127.0.0.1", -30, -1);
  weft_test::CertAndKey wrong_host = ca.issue("other.example", "DNS:other.example");
  std::filesystem::path dir;

  Certs() {
    char tmpl[] = "/tmp/weft_tls_test_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp");
    }
    dir = tmpl;
    write("ca.pem", ca.cert_pem());
    write("cert.pem", good.cert_pem);
    write("key.pem", good.key_pem);
  }
  ~Certs() { std::filesystem::remove_all(dir); }

  std::string file(const char* name) const { return (dir / name).string(); }
  void write(const char* name, const std::string& text) const { std::ofstream(dir / name) << text; }
};

class Tls : public testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new Certs; }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  static const Certs& certs() { return *certs_; }

  static tls::Context server_ctx(const weft_test::CertAndKey& ck,
                                 std::vector<std::string> alpn = {}) {
    return tls::Context::server({.certificate_chain_pem = ck.cert_pem,
                                 .private_key_pem = ck.key_pem,
                                 .alpn = std::move(alpn)});
  }
  static tls::Context client_ctx(std::vector<std::string> alpn = {}) {
    return tls::Context::client({.ca_pem = certs().ca.cert_pem(), .alpn = std::move(alpn)});
  }

 private:
  static inline Certs* certs_ = nullptr;
};

/// What a handshake that should fail gave on both sides: the errors' what() (or "no error").
struct Outcome {
  std::string client, server;
  std::error_code client_code;
};

/// Runs one handshake of a weft client (name `name`, context `cc`) with a weft server
/// (context `sc`), keeping each side's error.
Outcome handshake_both(const tls::Context& sc, const tls::Context& cc, std::string name) {
  return weft::run(
      [](const tls::Context& sc, const tls::Context& cc, std::string name) -> weft::Task<Outcome> {
        TcpListener l = listen_local();
        auto server =
            weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<std::string> {
              auto [tcp, peer] = co_await l.accept();
              try {
                tls::Stream s = co_await tls::accept(std::move(tcp), sc);
                co_await s.finish_writing();
              } catch (const tls::Error& e) {
                co_return e.what();
              }
              co_return "no error";
            }(l, sc));
        Outcome out;
        try {
          tls::Stream s =
              co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, name);
          out.client = "no error";
          co_await read_to_end(s);
        } catch (const tls::Error& e) {
          out.client = e.what();
          out.client_code = e.code();
        }
        out.server = co_await server;
        co_return out;
      }(sc, cc, std::move(name)),
      workers(2));
}

TEST_F(Tls, EchoesBetweenAWeftClientAndAWeftServer) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const std::string got = weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server = weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<void> {
          auto [tcp, peer] = co_await l.accept();
          tls::Stream s = co_await tls::accept(std::move(tcp), sc);
          std::vector<std::byte> buf(4096);
          for (;;) {
            const std::size_t n = co_await s.read(buf);
            if (n == 0) break;
            co_await s.write_all(std::span(buf).first(n));
          }
          co_await s.finish_writing();
        }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        EXPECT_EQ(c.peer_address(), l.local_address());
        co_await c.write_all("hello, ");
        co_await c.write_all(std::string_view("tls"));
        co_await c.finish_writing();
        std::string r = co_await read_to_end(c);
        EXPECT_EQ(co_await c.read(std::span<std::byte>()), 0u);
        co_await server;
        co_return r;
      }(sc, cc),
      workers(2));
  EXPECT_EQ(got, "hello, tls");
}

TEST_F(Tls, ContextsLoadTheirCertificatesFromFiles) {
  const tls::Context sc = tls::Context::server({.certificate_chain_file = certs().file("cert.pem"),
                                                .private_key_file = certs().file("key.pem")});
  const tls::Context cc = tls::Context::client({.ca_file = certs().file("ca.pem")});
  const Outcome out = handshake_both(sc, cc, "localhost");
  EXPECT_EQ(out.client, "no error");
  EXPECT_EQ(out.server, "no error");
}

TEST_F(Tls, WorksUnderBufferedReaderAndWriter) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server =
            weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<std::string> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              weft::net::BufferedReader<tls::Stream> r(s);
              std::string line = co_await r.read_line();
              std::string rest = co_await r.read_exact(200'000);
              co_await s.finish_writing();
              co_return line + std::to_string(rest.size()) +
                  (rest == std::string(200'000, 'x') ? " ok" : " bad");
            }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        weft::net::BufferedWriter<tls::Stream> w(c);
        co_await w.write("first line\n");
        co_await w.write(std::string(200'000, 'x'));  // larger than the buffer: one writev
        co_await w.flush();
        co_await c.finish_writing();
        EXPECT_EQ(co_await server, "first line\n200000 ok");
      }(sc, cc),
      workers(2));
}

TEST_F(Tls, WritevSendsSmallAndLargeBuffersInOrder) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const std::string got = weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server =
            weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<std::string> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              co_return co_await read_to_end(s);
            }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        std::string a = "head ", b(20'000, 'b'), d(10'000, 'd'), e(9'000, 'e');
        iovec iov[] = {{a.data(), a.size()}, {nullptr, 0},         {b.data(), b.size()},
                       {d.data(), d.size()}, {e.data(), e.size()}, {a.data(), a.size()}};
        co_await c.writev(iov);
        co_await c.finish_writing();
        co_return co_await server;
      }(sc, cc),
      workers(2));
  EXPECT_EQ(got, "head " + std::string(20'000, 'b') + std::string(10'000, 'd') +
                     std::string(9'000, 'e') + "head ");
}

TEST_F(Tls, LargeTransfersGoBothWaysAtOnceWithAReaderAndAWriterTask) {
  constexpr std::size_t kTotal = 8 << 20;
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const auto [client_got, server_got] = weft::run(
      [](const tls::Context& sc,
         const tls::Context& cc) -> weft::Task<std::pair<std::size_t, std::size_t>> {
        TcpListener l = listen_local();
        auto server =
            weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<std::size_t> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              co_return co_await both_ways(s, kTotal, 100'000);
            }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        const std::size_t got = co_await both_ways(c, kTotal, 64 * 1024);
        co_return std::pair(got, co_await server);
      }(sc, cc),
      workers(2));
  EXPECT_EQ(client_got, kTotal);
  EXPECT_EQ(server_got, kTotal);
}

TEST_F(Tls, ACertificateFromAnUntrustedCaFailsWithTheVerifyReason) {
  const tls::Context cc = tls::Context::client({.ca_pem = certs().other_ca.cert_pem()});
  const Outcome out = handshake_both(server_ctx(certs().good), cc, "localhost");
  EXPECT_NE(out.client.find("tls handshake 127.0.0.1:"), std::string::npos) << out.client;
  EXPECT_NE(out.client.find("(localhost): certificate verify failed: unable to get local issuer "
                            "certificate"),
            std::string::npos)
      << out.client;
  EXPECT_EQ(out.client_code,
            std::error_code(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, tls::verify_category()));
  EXPECT_NE(out.server.find("tls handshake 127.0.0.1:"), std::string::npos) << out.server;
  EXPECT_NE(out.server.find("unknown ca"), std::string::npos) << out.server;
}

TEST_F(Tls, AnExpiredCertificateFailsWithTheVerifyReason) {
  const Outcome out = handshake_both(server_ctx(certs().expired), client_ctx(), "localhost");
  EXPECT_NE(out.client.find("certificate verify failed: certificate has expired"),
            std::string::npos)
      << out.client;
  EXPECT_EQ(out.client_code, std::error_code(X509_V_ERR_CERT_HAS_EXPIRED, tls::verify_category()));
  EXPECT_NE(out.server.find("certificate expired"), std::string::npos) << out.server;
}

TEST_F(Tls, ACertificateForAnotherHostFailsWithHostnameMismatch) {
  const Outcome out = handshake_both(server_ctx(certs().wrong_host), client_ctx(), "localhost");
  EXPECT_NE(out.client.find("(localhost): certificate verify failed: hostname mismatch"),
            std::string::npos)
      << out.client;
  EXPECT_EQ(out.client_code, std::error_code(X509_V_ERR_HOSTNAME_MISMATCH, tls::verify_category()));
  EXPECT_NE(out.server.find("tls handshake"), std::string::npos) << out.server;
}

TEST_F(Tls, ACertificateWithoutTheAddressConnectedByIpFailsWithIpMismatch) {
  const Outcome out = handshake_both(server_ctx(certs().wrong_host), client_ctx(), "127.0.0.1");
  EXPECT_NE(out.client.find("certificate verify failed: IP address mismatch"), std::string::npos)
      << out.client;
  EXPECT_EQ(out.client_code,
            std::error_code(X509_V_ERR_IP_ADDRESS_MISMATCH, tls::verify_category()));
}

TEST_F(Tls, TheCertificateIsCheckedForAnIpAddressName) {
  const Outcome out = handshake_both(server_ctx(certs().good), client_ctx(), "127.0.0.1");
  EXPECT_EQ(out.client, "no error");
  EXPECT_EQ(out.server, "no error");
}

TEST_F(Tls, SkippingVerificationAcceptsAnyCertificate) {
  const tls::Context cc = tls::Context::client({.dangerously_skip_verification = true});
  const Outcome out = handshake_both(server_ctx(certs().wrong_host), cc, "localhost");
  EXPECT_EQ(out.client, "no error");
  EXPECT_EQ(out.server, "no error");
}

/// The ALPN protocol and server name each side of one handshake saw.
struct Negotiated {
  std::string client_alpn, server_alpn, client_name, server_name;
};

Negotiated negotiate(const tls::Context& sc, const tls::Context& cc, std::string name) {
  return weft::run(
      [](const tls::Context& sc, const tls::Context& cc,
         std::string name) -> weft::Task<Negotiated> {
        TcpListener l = listen_local();
        auto server = weft::spawn(
            [](TcpListener& l,
               const tls::Context& sc) -> weft::Task<std::pair<std::string, std::string>> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              co_await s.finish_writing();
              co_return std::pair(std::string(s.alpn()), std::string(s.server_name()));
            }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, name);
        co_await read_to_end(c);
        auto [server_alpn, server_name] = co_await server;
        co_return Negotiated{std::string(c.alpn()), server_alpn, std::string(c.server_name()),
                             server_name};
      }(sc, cc, std::move(name)),
      workers(2));
}

TEST_F(Tls, AlpnChoosesTheServersFirstProtocolThatTheClientOffers) {
  const Negotiated n = negotiate(server_ctx(certs().good, {"spdy/3", "http/1.1", "h2"}),
                                 client_ctx({"h2", "http/1.1"}), "localhost");
  EXPECT_EQ(n.client_alpn, "http/1.1");
  EXPECT_EQ(n.server_alpn, "http/1.1");
}

TEST_F(Tls, AlpnIsEmptyWhenTheClientOffersNone) {
  const Negotiated n = negotiate(server_ctx(certs().good, {"http/1.1"}), client_ctx(), "localhost");
  EXPECT_EQ(n.client_alpn, "");
  EXPECT_EQ(n.server_alpn, "");
}

TEST_F(Tls, AlpnWithoutACommonProtocolFailsTheHandshake) {
  const Outcome out =
      handshake_both(server_ctx(certs().good, {"http/1.1"}), client_ctx({"h2"}), "localhost");
  EXPECT_NE(out.client.find("no application protocol"), std::string::npos) << out.client;
  EXPECT_NE(out.server.find("no application protocol"), std::string::npos) << out.server;
}

TEST_F(Tls, TheServerSeesTheNameTheClientAskedFor) {
  const Negotiated n = negotiate(server_ctx(certs().good), client_ctx(), "localhost");
  EXPECT_EQ(n.server_name, "localhost");
  EXPECT_EQ(n.client_name, "localhost");
}

TEST_F(Tls, AClientConnectingByIpAddressSendsNoServerName) {
  const Negotiated n = negotiate(server_ctx(certs().good), client_ctx(), "127.0.0.1");
  EXPECT_EQ(n.server_name, "");
  EXPECT_EQ(n.client_name, "127.0.0.1");
}

TEST_F(Tls, AClientHandshakeCancelledByATimeoutClosesItsSocket) {
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& cc) -> weft::Task<void> {
        TcpListener l = listen_local();
        weft::Event accepted, done;
        // A server that accepts and never answers the ClientHello.
        auto server = weft::spawn(
            [](TcpListener& l, weft::Event& accepted, weft::Event& done) -> weft::Task<void> {
              auto [tcp, peer] = co_await l.accept();
              accepted.set();
              co_await done.wait();
            }(l, accepted, done));
        TcpStream tcp = co_await TcpStream::connect(l.local_address());
        const int fd = tcp.socket().fd();
        co_await accepted.wait();
        const std::size_t before = open_fds();
        EXPECT_THROW(co_await weft::wait_for(tls::connect(std::move(tcp), cc, "localhost"), 50ms),
                     weft::TimeoutError);
        EXPECT_EQ(open_fds(), before - 1);
        EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
        done.set();
        co_await server;
      }(cc),
      workers(2));
}

TEST_F(Tls, AServerHandshakeCancelledByATimeoutClosesItsSocket) {
  const tls::Context sc = server_ctx(certs().good);
  weft::run(
      [](const tls::Context& sc) -> weft::Task<void> {
        TcpListener l = listen_local();
        // A client that connects and never sends its ClientHello.
        TcpStream silent = co_await TcpStream::connect(l.local_address());
        auto [tcp, peer] = co_await l.accept();
        const int fd = tcp.socket().fd();
        const std::size_t before = open_fds();
        EXPECT_THROW(co_await weft::wait_for(tls::accept(std::move(tcp), sc), 50ms),
                     weft::TimeoutError);
        EXPECT_EQ(open_fds(), before - 1);
        EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
        // The client reads the end of the stream: the server's socket is closed.
        std::byte b[1];
        EXPECT_EQ(co_await silent.read(b), 0u);
      }(sc),
      workers(2));
}

/// A server that sends `text` and closes the TCP connection without close_notify; what the
/// client's reads give: the text, then "<eof>" for a read of 0 or the error's what().
std::string read_from_abrupt_server(const tls::Context& sc, const tls::Context& cc) {
  return weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server = weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<void> {
          auto [tcp, peer] = co_await l.accept();
          tls::Stream s = co_await tls::accept(std::move(tcp), sc);
          co_await s.write_all("partial");
          s.close();
        }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        co_await server;
        std::string got;
        std::vector<std::byte> buf(100);
        try {
          while (const std::size_t n = co_await c.read(buf)) {
            got.append(reinterpret_cast<const char*>(buf.data()), n);
          }
          got += "<eof>";
        } catch (const tls::Error& e) {
          got += e.what();
        }
        co_return got;
      }(sc, cc),
      workers(2));
}

TEST_F(Tls, APeerClosingWithoutCloseNotifyIsAnErrorNamingIt) {
  const std::string got = read_from_abrupt_server(server_ctx(certs().good), client_ctx());
  EXPECT_EQ(got.rfind("partialtls read 127.0.0.1:", 0), 0u) << got;
  EXPECT_NE(got.find("the peer closed the connection without close_notify"), std::string::npos)
      << got;
}

TEST_F(Tls, IgnoringUnexpectedEofReadsItAsTheEnd) {
  const tls::Context cc =
      tls::Context::client({.ca_pem = certs().ca.cert_pem(), .ignore_unexpected_eof = true});
  EXPECT_EQ(read_from_abrupt_server(server_ctx(certs().good), cc), "partial<eof>");
}

TEST_F(Tls, AResetConnectionIsAnErrorWithItsErrnoAndRaisesNoSigpipe) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const std::string got = weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server = weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<void> {
          auto [tcp, peer] = co_await l.accept();
          tls::Stream s = co_await tls::accept(std::move(tcp), sc);
          // Closing with a zero linger time sends a reset.
          const linger no_linger{.l_onoff = 1, .l_linger = 0};
          ::setsockopt(s.tcp()->socket().fd(), SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
          s.close();
        }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        co_await server;
        std::string error = "no error";
        try {
          co_await read_to_end(c);
        } catch (const tls::Error& e) {
          EXPECT_EQ(e.code(), std::errc::connection_reset);
          error = e.what();
        }
        // A write to the closed connection fails with EPIPE; it raises no SIGPIPE, which
        // would end the process.
        try {
          co_await c.write_all("after the reset");
          ADD_FAILURE() << "a write after the reset succeeded";
        } catch (const tls::Error& e) {
          EXPECT_EQ(e.code(), std::errc::broken_pipe) << e.what();
        }
        co_return error;
      }(sc, cc),
      workers(2));
  EXPECT_EQ(got.rfind("tls read 127.0.0.1:", 0), 0u) << got;
  EXPECT_NE(got.find("(localhost): Connection reset by peer"), std::string::npos) << got;
}

TEST_F(Tls, AWriteCancelledPartWayLeavesTheStreamUnwritable) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<void> {
        TcpListener l = listen_local();
        weft::Event done;
        // A server that never reads: the client's write fills the socket buffers and waits.
        auto server = weft::spawn(
            [](TcpListener& l, const tls::Context& sc, weft::Event& done) -> weft::Task<void> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              co_await done.wait();
            }(l, sc, done));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        const std::string big(64 << 20, 'x');
        EXPECT_THROW(co_await weft::wait_for(c.write_all(big), 100ms), weft::TimeoutError);
        try {
          co_await c.finish_writing();
          ADD_FAILURE() << "finish_writing after a cut write succeeded";
        } catch (const tls::Error& e) {
          EXPECT_EQ(e.code(), std::errc::operation_canceled);
          EXPECT_NE(std::string(e.what()).find("tls shutdown 127.0.0.1:"), std::string::npos);
          EXPECT_NE(std::string(e.what()).find("cancelled part-way"), std::string::npos);
        }
        EXPECT_THROW(co_await c.write_all("more"), tls::Error);
        c.close();
        done.set();
        co_await server;
      }(sc, cc),
      workers(2));
}

TEST_F(Tls, TwoReadsAtOnceAreRefused) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<void> {
        TcpListener l = listen_local();
        auto server = weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<void> {
          auto [tcp, peer] = co_await l.accept();
          tls::Stream s = co_await tls::accept(std::move(tcp), sc);
          co_await s.write_all("x");
          co_await read_to_end(s);
          co_await s.finish_writing();
        }(l, sc));
        tls::Stream c =
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, "localhost");
        std::byte b[1];
        EXPECT_EQ(co_await c.read(b), 1u);
        // With one worker, the spawned read runs (and waits for data) while this task yields.
        auto first = weft::spawn([](tls::Stream& c) -> weft::Task<std::size_t> {
          std::byte b[1];
          co_return co_await c.read(b);
        }(c));
        co_await weft::yield_now();
        EXPECT_THROW(co_await c.read(b), weft::UsageError);
        co_await c.finish_writing();
        EXPECT_EQ(co_await first, 0u);
        co_await server;
      }(sc, cc),
      workers(1));
}

TEST_F(Tls, ContextsRejectMissingAndMismatchedMaterialNamingIt) {
  EXPECT_THROW(tls::Context::server({.private_key_pem = certs().good.key_pem}),
               std::invalid_argument);
  EXPECT_THROW(tls::Context::server({.certificate_chain_file = "x",
                                     .certificate_chain_pem = certs().good.cert_pem,
                                     .private_key_pem = certs().good.key_pem}),
               std::invalid_argument);
  EXPECT_THROW(tls::Context::client({.alpn = {""}}), std::invalid_argument);
  try {
    tls::Context::server({.certificate_chain_file = "/nonexistent/cert.pem",
                          .private_key_pem = certs().good.key_pem});
    ADD_FAILURE() << "no error";
  } catch (const tls::Error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(e.what()).find("certificate chain file /nonexistent/cert.pem"),
              std::string::npos)
        << e.what();
  }
  try {
    tls::Context::server({.certificate_chain_pem = certs().good.cert_pem,
                          .private_key_pem = certs().expired.key_pem});
    ADD_FAILURE() << "no error";
  } catch (const tls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the certificate"), std::string::npos)
        << e.what();
  }
  try {
    tls::Context::server(
        {.certificate_chain_pem = "not a certificate", .private_key_pem = certs().good.key_pem});
    ADD_FAILURE() << "no error";
  } catch (const tls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tls context: certificate chain PEM: "), std::string::npos)
        << e.what();
  }
  try {
    tls::Context::client({.ca_pem = "nothing here"});
    ADD_FAILURE() << "no error";
  } catch (const tls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CA PEM holds no PEM certificate"), std::string::npos)
        << e.what();
  }
}

TEST_F(Tls, ConnectRefusesAServerContextAndAnEmptyNameToVerify) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<void> {
        TcpListener l = listen_local();
        EXPECT_THROW(
            co_await tls::connect(co_await TcpStream::connect(l.local_address()), sc, "localhost"),
            std::invalid_argument);
        EXPECT_THROW(co_await tls::connect(co_await TcpStream::connect(l.local_address()), cc, ""),
                     std::invalid_argument);
        EXPECT_THROW(co_await tls::accept(co_await TcpStream::connect(l.local_address()), cc),
                     std::invalid_argument);
      }(sc, cc),
      workers(1));
}

TEST_F(Tls, OpenConnectionResolvesConnectsAndVerifiesTheHostName) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const std::string got = weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        TcpListener l = listen_local();
        auto server =
            weft::spawn([](TcpListener& l, const tls::Context& sc) -> weft::Task<std::string> {
              auto [tcp, peer] = co_await l.accept();
              tls::Stream s = co_await tls::accept(std::move(tcp), sc);
              co_await s.write_all("hi");
              co_await s.finish_writing();
              co_return std::string(s.server_name());
            }(l, sc));
        // "127.0.0.1" resolves in place; "localhost" might be ::1 first, where nothing listens.
        tls::Stream c = co_await tls::open_connection("127.0.0.1", l.local_address().port(), cc);
        std::string r = co_await read_to_end(c);
        co_return r + "/" + co_await server;
      }(sc, cc),
      workers(2));
  EXPECT_EQ(got, "hi/");
}

// ---- On net::start_server ------------------------------------------------------------------

TEST_F(Tls, AServerWithTheTlsWrapStepServesBufferedStreamsOverTls) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  const std::string got = weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<std::string> {
        weft::net::ServerOptions o;
        o.wrap = tls::server_wrap(sc);
        auto handler = [](weft::net::BufferedStream s) -> weft::Task<void> {
          EXPECT_NE(s.stream().target<tls::Stream>(), nullptr);
          EXPECT_NE(s.stream().tcp(), nullptr);  // the TCP connection under the TLS stream
          for (;;) {
            std::string line = co_await s.read_line();
            if (line.empty()) break;
            co_await s.write("tls says " + line);
            co_await s.flush();
          }
          co_await s.finish_writing();  // close_notify: the client reads a clean end
        };
        weft::net::Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        weft::net::BufferedStream c(
            co_await tls::open_connection("127.0.0.1", server.local_address().port(), cc));
        co_await c.write("one\ntwo\n");
        co_await c.finish_writing();
        std::string r = co_await c.reader().read_all();
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
        co_return r;
      }(sc, cc),
      workers(2));
  EXPECT_EQ(got, "tls says one\ntls says two\n");
}

TEST_F(Tls, AClientThatNeverHandshakesTimesOutAndTheServerServesTheNext) {
  const tls::Context sc = server_ctx(certs().good);
  const tls::Context cc = client_ctx();
  weft::run(
      [](const tls::Context& sc, const tls::Context& cc) -> weft::Task<void> {
        std::vector<std::string> errors;
        weft::net::ServerOptions o;
        o.max_connections = 1;  // the silent client holds the only slot until its deadline
        o.wrap = tls::server_wrap(sc, 200ms);
        o.on_error = [&](const SocketAddress&, std::exception_ptr e) {
          try {
            std::rethrow_exception(e);
          } catch (const weft::TimeoutError& ex) {
            errors.push_back(std::string("timeout: ") + ex.what());
          } catch (const std::exception& ex) {
            errors.push_back(ex.what());
          }
        };
        auto handler = [](weft::net::BufferedStream s) -> weft::Task<void> {
          co_await s.write("served\n");
          co_await s.finish_writing();
        };
        weft::net::Server server = co_await weft::net::start_server(handler, "127.0.0.1", 0, o);
        auto serving = weft::spawn(server.serve_forever());
        TcpStream silent = co_await TcpStream::connect(server.local_address());
        weft::net::BufferedStream c(
            co_await tls::open_connection("127.0.0.1", server.local_address().port(), cc));
        EXPECT_EQ(co_await c.reader().read_all(), "served\n");
        // The silent connection was given up: the server closed it.
        std::array<std::byte, 16> buf;
        EXPECT_EQ(co_await silent.read(buf), 0u);
        EXPECT_EQ(co_await server.shutdown(1s), 0u);
        co_await serving;
        EXPECT_EQ(errors.size(), 1u);
        for (const std::string& e : errors) EXPECT_EQ(e.rfind("timeout: ", 0), 0u) << e;
      }(sc, cc),
      workers(2));
}

TEST_F(Tls, TheWrapStepRefusesAClientContext) {
  EXPECT_THROW((void)tls::server_wrap(client_ctx()), std::invalid_argument);
}

// ---- Interop with real peers --------------------------------------------------------------

/// Fails the test unless `program` is installed (tools/setup installs it).
bool have(const char* program) {
  if (std::filesystem::exists(program)) return true;
  ADD_FAILURE() << program << " is missing: tools/setup installs it";
  return false;
}

/// A free TCP port on 127.0.0.1 (bound and released: a tool started next binds it).
std::uint16_t free_port() {
  return listen_local().local_address().port();
}

TEST_F(Tls, AWeftClientTalksToOpensslSServer) {
  if (!have("/usr/bin/openssl")) return;
  const std::uint16_t port = free_port();
  const std::string got = weft::run(
      [](std::uint16_t port) -> weft::Task<std::string> {
        weft::process::Child server = weft::process::Child::spawn(
            {"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
             "-cert", certs().file("cert.pem"), "-key", certs().file("key.pem"), "-rev", "-naccept",
             "1", "-alpn", "http/1.1"},
            {.in = weft::process::Stdio::null(),
             .out = weft::process::Stdio::pipe(),
             .err = weft::process::Stdio::file(certs().file("s_server.err"))});
        weft::net::BufferedReader<weft::process::PipeReader> out(*server.out);
        // s_server prints ACCEPT once it listens.
        for (;;) {
          const std::string line = co_await out.read_line();
          if (line.empty()) throw std::runtime_error("s_server ended before ACCEPT");
          if (line == "ACCEPT\n") break;
        }
        const tls::Context cc =
            tls::Context::client({.ca_file = certs().file("ca.pem"), .alpn = {"h2", "http/1.1"}});
        tls::Stream c = co_await tls::open_connection("127.0.0.1", port, cc);
        EXPECT_EQ(c.alpn(), "http/1.1");
        weft::net::BufferedReader<tls::Stream> r(c);
        co_await c.write_all("hello, s_server\n");
        std::string reply = co_await r.read_line();
        co_await c.finish_writing();
        const weft::process::ExitStatus st = co_await weft::wait_for(server.wait(), 10s);
        EXPECT_TRUE(st.success()) << st.to_string() << "\n"
                                  << std::ifstream(certs().file("s_server.err")).rdbuf();
        co_return reply;
      }(port),
      workers(2));
  EXPECT_EQ(got, "revres_s ,olleh\n");
}

/// A weft server that accepts one connection with `sc`, reads a line and answers it
/// upper-cased, then sends close_notify; it returns "alpn|server name|line".
weft::Task<std::string> upper_case_once(TcpListener& l, const tls::Context& sc) {
  auto [tcp, peer] = co_await l.accept();
  tls::Stream s = co_await tls::accept(std::move(tcp), sc);
  weft::net::BufferedReader<tls::Stream> r(s);
  std::string line = co_await r.read_line();
  std::string upper = line;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  co_await s.write_all(upper);
  co_await s.finish_writing();
  co_return std::string(s.alpn()) + "|" + std::string(s.server_name()) + "|" + line;
}

class TlsWithSClient : public Tls, public testing::WithParamInterface<const char*> {};

TEST_P(TlsWithSClient, OpensslSClientTalksToAWeftServer) {
  if (!have("/usr/bin/openssl")) return;
  const tls::Context sc = server_ctx(certs().good, {"http/1.1"});
  const auto [seen, client] = weft::run(
      [](const tls::Context& sc,
         const char* version) -> weft::Task<std::pair<std::string, weft::process::Output>> {
        TcpListener l = listen_local();
        auto server = weft::spawn(upper_case_once(l, sc));
        // -quiet: only the server's data on stdout, and stdin's end does not end the
        // session: the server's close_notify does.
        weft::process::Child client = weft::process::Child::spawn(
            {"/usr/bin/openssl", "s_client", "-connect", l.local_address().to_string(), version,
             "-CAfile", certs().file("ca.pem"), "-verify_return_error", "-servername", "localhost",
             "-alpn", "http/1.1", "-quiet"},
            {.in = weft::process::Stdio::pipe(),
             .out = weft::process::Stdio::pipe(),
             .err = weft::process::Stdio::pipe()});
        weft::process::Output out = co_await weft::wait_for(client.communicate("ping\n"), 10s);
        co_return std::pair(co_await server, std::move(out));
      }(sc, GetParam()),
      workers(2));
  EXPECT_EQ(seen, "http/1.1|localhost|ping\n");
  EXPECT_EQ(client.out, "PING\n") << client.err;
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsWithSClient, testing::Values("-tls1_2", "-tls1_3"),
                         [](const auto& info) { return std::string(info.param + 1); });

TEST_F(Tls, CurlFetchesFromAWeftServer) {
  if (!have("/usr/bin/curl")) return;
  const tls::Context sc = server_ctx(certs().good, {"http/1.1"});
  const auto [request, curl] = weft::run(
      [](const tls::Context& sc) -> weft::Task<std::pair<std::string, weft::process::Output>> {
        TcpListener l = listen_local();
        auto server = weft::spawn([](TcpListener& l,
                                     const tls::Context& sc) -> weft::Task<std::string> {
          auto [tcp, peer] = co_await l.accept();
          tls::Stream s = co_await tls::accept(std::move(tcp), sc);
          weft::net::BufferedReader<tls::Stream> r(s);
          std::string head = co_await r.read_until("\r\n\r\n");
          co_await s.write_all(
              "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\nhello from weft");
          try {
            co_await s.finish_writing();
          } catch (const tls::Error&) {
            // curl may close (and reset) the connection as soon as it has the body: then
            // close_notify or the half-close finds no one there, as with any HTTP client.
          }
          co_return std::string(s.alpn()) + " " + head.substr(0, head.find("\r\n"));
        }(l, sc));
        const std::string port = std::to_string(l.local_address().port());
        // Named, not a temporary in the co_await: GCC 12 destroys those twice.
        std::vector<std::string> args = {"/usr/bin/curl",
                                         "-sS",
                                         "--cacert",
                                         certs().file("ca.pem"),
                                         "--resolve",
                                         "localhost:" + port + ":127.0.0.1",
                                         "https://localhost:" + port + "/hello"};
        weft::process::Output out =
            co_await weft::wait_for(weft::process::run(std::move(args)), 10s);
        co_return std::pair(co_await server, std::move(out));
      }(sc),
      workers(2));
  EXPECT_EQ(request, "http/1.1 GET /hello HTTP/1.1");
  EXPECT_TRUE(curl.status.success()) << curl.err;
  EXPECT_EQ(curl.out, "hello from weft");
}

}  // namespace
