// weft::mysql over TLS, against a test server that takes it (mysql_server.hpp's use_tls: its
// certificate names localhost only, signed by a CA made at start): each TlsMode, the checks
// of kVerifyCa and kVerifyFull failing as they should, a client certificate, rows and a
// cancelled statement over TLS, and a connection whose server is gone closed without
// SIGPIPE (whose default action, which the test server's harness leaves in place, would end
// this process).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"
#include "open_fds.hpp"
#include "tls_test_certs.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::run_sql;
using weft_test::mysql::server;
using weft_test::mysql::tcp_options;
using weft_test::mysql::unix_options;

namespace {

[[maybe_unused]] const bool kTls = (weft_test::mysql::use_tls(), true);

constexpr auto kBound = 30s;

mysql::ConnectOptions with_tls(mysql::TlsMode mode, mysql::ConnectOptions o = tcp_options()) {
  o.tls = mode;
  o.tls_ca_file = server().ca_file;
  return o;
}

/// A PEM file of a CA that did not sign the server's certificate.
std::string wrong_ca_file() {
  static const std::string path = [] {
    const std::filesystem::path p =
        std::filesystem::path(server().socket_path).parent_path() / "wrong-ca.crt";
    std::ofstream(p) << weft_test::TestCa("not the server's CA").cert_pem();
    return p.string();
  }();
  return path;
}

/// The cipher the server reports for this session ("" for a plain one).
weft::Task<std::string> server_side_cipher(mysql::Connection& c) {
  auto row = co_await c.fetchrow("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  co_return row ? row->get<std::string>(1) : std::string("(no row)");
}

/// The error connecting with `o` raises (code 0 if it connects).
mysql::ErrorFields connect_error(mysql::ConnectOptions o) {
  return weft::run([](mysql::ConnectOptions o) -> weft::Task<mysql::ErrorFields> {
    mysql::ErrorFields f;
    try {
      mysql::Connection c = co_await mysql::connect(o, kBound);
    } catch (const mysql::ConnectionError& e) {
      f.code = e.code();
      f.message = e.message();
    }
    co_return f;
  }(std::move(o)));
}

TEST(MysqlTls, RequireEncryptsAndEveryKindOfStatementWorks) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(with_tls(mysql::TlsMode::kRequire), kBound);
    EXPECT_TRUE(c.uses_tls());
    EXPECT_FALSE(c.tls_cipher().empty());
    EXPECT_EQ(co_await server_side_cipher(c), c.tls_cipher());
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT CONCAT(?, '!')", "over tls"), "over tls!");
    // Rows larger than a TLS record, many of them: the library reads what OpenSSL holds
    // before it waits on the socket again.
    const mysql::Result r =
        co_await c.fetch("SELECT seq, REPEAT('x', 3000) FROM seq_1_to_2000 ORDER BY seq");
    EXPECT_EQ(r.size(), 2000u);
    if (r.size() != 2000) co_return;
    EXPECT_EQ(r[1999].get<std::int64_t>(0), 2000);
    EXPECT_EQ(r[1999].get<std::string>(1).size(), 3000u);
    std::int64_t streamed = 0;
    weft::AsyncGenerator<mysql::Row> rows =
        c.stream("SELECT seq FROM seq_1_to_5000 WHERE seq > ?", 0);
    while (std::optional<mysql::Row> row = co_await rows.next()) {
      streamed += row->get<std::int64_t>(0);
    }
    EXPECT_EQ(streamed, std::int64_t{5000} * 5001 / 2);
  }());
}

TEST(MysqlTls, PreferEncryptsOverTcpAndNotOverTheUnixSocket) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection t = co_await mysql::connect(tcp_options(), kBound);  // the default
    EXPECT_TRUE(t.uses_tls());
    mysql::Connection u = co_await mysql::connect(unix_options(), kBound);
    EXPECT_FALSE(u.uses_tls());
    EXPECT_EQ(co_await server_side_cipher(u), "");
  }());
}

TEST(MysqlTls, RequireEncryptsOverTheUnixSocketToo) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection u =
        co_await mysql::connect(with_tls(mysql::TlsMode::kRequire, unix_options()), kBound);
    EXPECT_TRUE(u.uses_tls());
    EXPECT_EQ(co_await server_side_cipher(u), u.tls_cipher());
  }());
}

TEST(MysqlTls, DisableStaysPlain) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(with_tls(mysql::TlsMode::kDisable), kBound);
    EXPECT_FALSE(c.uses_tls());
    EXPECT_EQ(c.tls_cipher(), "");
    EXPECT_EQ(co_await server_side_cipher(c), "");
  }());
}

TEST(MysqlTls, VerifyCaChecksTheChainButNotTheName) {
  // The certificate names localhost, not 127.0.0.1: kVerifyCa does not mind.
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(with_tls(mysql::TlsMode::kVerifyCa), kBound);
    EXPECT_TRUE(c.uses_tls());
  }());
  mysql::ConnectOptions wrong = with_tls(mysql::TlsMode::kVerifyCa);
  wrong.tls_ca_file = wrong_ca_file();
  const mysql::ErrorFields f = connect_error(wrong);
  EXPECT_EQ(f.code, 2026u) << f.message;  // CR_SSL_CONNECTION_ERROR
}

TEST(MysqlTls, VerifyFullChecksTheHostName) {
  // By name: the library resolves it, off the worker, and checks the certificate for it.
  mysql::ConnectOptions by_name = with_tls(mysql::TlsMode::kVerifyFull);
  by_name.host = "localhost";
  weft::run([](mysql::ConnectOptions o) -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(o, kBound);
    EXPECT_TRUE(c.uses_tls());
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 1"), 1);
  }(by_name));
  // By address: the certificate does not name 127.0.0.1.
  const mysql::ErrorFields by_ip = connect_error(with_tls(mysql::TlsMode::kVerifyFull));
  EXPECT_EQ(by_ip.code, 2026u) << by_ip.message;
  // Another CA: refused, by name too.
  by_name.tls_ca_file = wrong_ca_file();
  const mysql::ErrorFields wrong_ca = connect_error(by_name);
  EXPECT_EQ(wrong_ca.code, 2026u) << wrong_ca.message;
}

TEST(MysqlTls, AClientCertificateLogsInAnAccountThatRequiresOne) {
  run_sql(
      "CREATE USER IF NOT EXISTS 'weft_x509'@'%' REQUIRE X509;"
      "GRANT SELECT ON *.* TO 'weft_x509'@'%'");
  mysql::ConnectOptions o = with_tls(mysql::TlsMode::kRequire);
  o.user = "weft_x509";
  o.password = "";
  o.database = "";
  const mysql::ErrorFields without = connect_error(o);
  EXPECT_EQ(without.code, 1045u) << without.message;  // ER_ACCESS_DENIED_ERROR
  o.tls_cert_file = server().client_cert_file;
  o.tls_key_file = server().client_key_file;
  weft::run([](mysql::ConnectOptions o) -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(o, kBound);
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT CURRENT_USER()"), "weft_x509@%");
  }(o));
}

TEST(MysqlTls, ACancelledStatementIsStoppedAndTheConnectionStaysUsable) {
  // KILL QUERY goes over a connection made with the same options: here by name, verified.
  mysql::ConnectOptions o = with_tls(mysql::TlsMode::kVerifyFull);
  o.host = "localhost";
  weft::run([](mysql::ConnectOptions o) -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(o, kBound);
    EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT SLEEP(20)"), 100ms), weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(c.uses_tls());
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT ?", 7), 7);
  }(o));
}

TEST(MysqlTls, ASessionTheServerEndedClosesWithoutSigpipe) {
  // Closing a connection found dead shuts its socket down and then lets the library say
  // goodbye (COM_QUIT, TLS's close_notify), which OpenSSL writes with write(2): EPIPE, and a
  // SIGPIPE that must not reach the process.
  const int fds_before = weft_test::open_fds();
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(with_tls(mysql::TlsMode::kRequire), kBound);
    EXPECT_TRUE(c.uses_tls());
    const std::uint64_t id = c.thread_id();
    co_await weft::to_thread([id] { run_sql("KILL CONNECTION " + std::to_string(id)); });
    // The server's goodbye reaches the socket soon after the KILL: bounded, 5 ms apart.
    bool dead = false;
    for (int i = 0; i < 2000 && !dead; ++i) {
      dead = !c.is_alive();
      if (!dead) co_await weft::sleep(5ms);
    }
    EXPECT_TRUE(dead);
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW(co_await c.fetch("SELECT 1"), mysql::ConnectionLost);
  }());
  // And a statement on a session killed while idle: the write goes out, the read finds the
  // end, the connection is closed.
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(with_tls(mysql::TlsMode::kRequire), kBound);
    const std::uint64_t id = c.thread_id();
    co_await weft::to_thread([id] { run_sql("KILL CONNECTION " + std::to_string(id)); });
    EXPECT_ANY_THROW(co_await c.fetchval<std::int64_t>("SELECT 1"));
    EXPECT_ANY_THROW(co_await c.fetchval<std::int64_t>("SELECT 2"));
    c.close();
  }());
  EXPECT_EQ(weft_test::open_fds(), fds_before);
}

}  // namespace
