// weft::mysql::connect against the test server: TCP with a host name and a numeric
// address, the Unix socket, and the failures (access denied, unknown database, refused,
// timeout) as mysql::ConnectionError naming the target; a lost connection (its session
// killed while idle and in the middle of a statement) and a cancelled statement (stopped by
// KILL QUERY), with no descriptor left behind.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <weft/io/mysql.hpp>
#include <weft/io/net.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"
#include "open_fds.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::server;
using weft_test::mysql::tcp_options;
using weft_test::mysql::unix_options;

namespace {

using weft_test::open_fds;

/// The error connecting with `o` raises (code 0 and an empty message if it connects).
mysql::ErrorFields connect_error(mysql::ConnectOptions o, std::string* what = nullptr) {
  return weft::run(
      [](mysql::ConnectOptions o, std::string* what) -> weft::Task<mysql::ErrorFields> {
        mysql::ErrorFields f;
        try {
          mysql::Connection c = co_await mysql::connect(o, 10s);
        } catch (const mysql::ConnectionError& e) {
          f.code = e.code();
          f.message = e.message();
          if (what) *what = e.what();
        }
        co_return f;
      }(std::move(o), what));
}

/// Returns once session `id` runs a statement, as `observer` sees in the process list;
/// fails the test after 2,000 looks 5 ms apart.
weft::Task<void> until_running(mysql::Connection& observer, std::uint64_t id) {
  for (int i = 0; i < 2000; ++i) {
    const auto n = co_await observer.fetchval<std::int64_t>(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND COMMAND <> "
        "'Sleep'",
        id);
    if (n > 0) co_return;
    co_await weft::sleep(5ms);
  }
  ADD_FAILURE() << "session " << id << " never ran the statement";
}

TEST(MysqlConnect, ConnectsOverTcpAndTheUnixSocket) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection t = co_await mysql::connect(tcp_options());
    EXPECT_TRUE(t.is_open());
    EXPECT_GT(t.thread_id(), 0u);
    EXPECT_NE(t.server_version().find("MariaDB"), std::string::npos);
    EXPECT_EQ(co_await t.fetchval<std::uint64_t>("SELECT CONNECTION_ID()"), t.thread_id());
    EXPECT_EQ(co_await t.fetchval<std::string>("SELECT DATABASE()"), server().database);
    mysql::Connection u = co_await mysql::connect(unix_options());
    EXPECT_EQ(co_await u.fetchval<std::string>("SELECT SUBSTRING_INDEX(USER(), '@', -1)"),
              "localhost");
    EXPECT_EQ(co_await u.fetchval<std::string>("SELECT @@character_set_client"), "utf8mb4");
    u.close();
    EXPECT_FALSE(u.is_open());
    EXPECT_THROW(co_await u.fetch("SELECT 1"), weft::UsageError);
  }());
}

TEST(MysqlConnect, ResolvesAHostNameOnWeftsResolver) {
  mysql::ConnectOptions o = tcp_options();
  o.host = "localhost";
  const std::string peer = weft::run([](mysql::ConnectOptions o) -> weft::Task<std::string> {
    mysql::Connection c = co_await mysql::connect(o);
    co_return co_await c.fetchval<std::string>("SELECT SUBSTRING_INDEX(USER(), '@', -1)");
  }(o));
  // Over TCP (the library was given the address, so it did not take the Unix socket that
  // "localhost" means to it).
  EXPECT_EQ(peer, "127.0.0.1");
}

TEST(MysqlConnect, FailuresAreConnectionErrorsNamingTheTarget) {
  mysql::ConnectOptions bad_password = tcp_options();
  bad_password.password = "wrong";
  std::string what;
  EXPECT_EQ(connect_error(bad_password, &what).code, 1045u);  // ER_ACCESS_DENIED_ERROR
  EXPECT_NE(what.find("127.0.0.1:" + std::to_string(server().port)), std::string::npos) << what;
  mysql::ConnectOptions no_db = tcp_options();
  no_db.database = "no_such_database";
  EXPECT_EQ(connect_error(no_db).code, 1049u);  // ER_BAD_DB_ERROR
  mysql::ConnectOptions refused = tcp_options();
  {
    auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
    refused.port = l.local_address().port();
  }
  EXPECT_EQ(connect_error(refused).code, 2002u);  // CR_CONNECTION_ERROR
  mysql::ConnectOptions no_socket = unix_options();
  no_socket.unix_socket = "/nonexistent/mysql.sock";
  EXPECT_EQ(connect_error(no_socket).code, 2002u);
}

TEST(MysqlConnect, TlsModesThatRequireItFailAgainstAServerWithout) {
  // This server takes no TLS (mysql_tls_test's does): the default, kPrefer, goes on in plain
  // text; the stricter modes refuse, kVerifyFull before the login.
  const int before = open_fds();
  EXPECT_FALSE(weft::run([]() -> weft::Task<bool> {
    mysql::Connection c = co_await mysql::connect(tcp_options(), 10s);
    co_return c.uses_tls();
  }()));
  for (mysql::TlsMode mode :
       {mysql::TlsMode::kRequire, mysql::TlsMode::kVerifyCa, mysql::TlsMode::kVerifyFull}) {
    mysql::ConnectOptions o = tcp_options();
    o.tls = mode;
    std::string what;
    const mysql::ErrorFields f = connect_error(o, &what);
    EXPECT_EQ(f.code, 2026u) << what;  // CR_SSL_CONNECTION_ERROR
    EXPECT_NE(what.find(server().host), std::string::npos) << what;
  }
  mysql::ConnectOptions o = tcp_options();
  o.tls = mysql::TlsMode::kRequire;
  std::string what;
  (void)connect_error(o, &what);
  EXPECT_NE(what.find("does not offer TLS"), std::string::npos) << what;
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlConnect, AServerThatNeverAnswersTimesOutAndLeavesNoDescriptor) {
  const int before = open_fds();
  weft::run([]() -> weft::Task<void> {
    // Accepts (the kernel does, from its backlog) and never sends the greeting.
    auto silent = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
    mysql::ConnectOptions o = tcp_options();
    o.port = silent.local_address().port();
    EXPECT_THROW(co_await mysql::connect(o, 200ms), weft::TimeoutError);
  }());
  EXPECT_EQ(open_fds(), before);
}

/// The server's first packet (protocol 10) of a server that offers TLS, as MariaDB sends it.
std::string greeting_offering_tls() {
  std::string p;
  p += '\x0a';  // protocol version
  p += std::string("5.5.5-10.11.0-MariaDB") + '\0';
  p += std::string("\x01\x00\x00\x00", 4);  // connection id
  p += std::string("abcdefgh") + '\0';      // scramble, first part, and a filler
  // Capabilities, low half: LONG_PASSWORD, CONNECT_WITH_DB, PROTOCOL_41, SSL, TRANSACTIONS,
  // SECURE_CONNECTION; high half: MULTI_RESULTS, PLUGIN_AUTH.
  const std::uint32_t caps = 0x1 | 0x8 | 0x200 | 0x800 | 0x2000 | 0x8000 | 0x20000 | 0x80000;
  p += static_cast<char>(caps & 0xff);
  p += static_cast<char>((caps >> 8) & 0xff);
  p += '\x21';                      // character set
  p += std::string("\x02\x00", 2);  // status: autocommit
  p += static_cast<char>((caps >> 16) & 0xff);
  p += static_cast<char>((caps >> 24) & 0xff);
  p += '\x15';                              // length of the scramble (21)
  p += std::string(10, '\0');               // reserved
  p += std::string("ijklmnopqrst") + '\0';  // scramble, second part
  p += std::string("mysql_native_password") + '\0';
  std::string packet;
  packet += static_cast<char>(p.size() & 0xff);
  packet += static_cast<char>((p.size() >> 8) & 0xff);
  packet += '\0';
  packet += '\0';  // sequence number
  return packet + p;
}

TEST(MysqlConnect, ATlsHandshakeTheServerNeverAnswersTimesOutWithoutBlockingTheWorker) {
  // A server that offers TLS, takes the client's request for it and its ClientHello, and
  // then says nothing. The library waits in the handshake with poll(2): the connect's timeout
  // must still fire on the one worker, and end that wait. A worker held by the handshake
  // would wait until the server gives up (10 s) and then fail with a TLS error instead of
  // TimeoutError.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::thread server([listener] {
    const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    const std::string g = greeting_offering_tls();
    if (::send(c, g.data(), g.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(g.size())) {
      // Reads what comes (the TLS request, the ClientHello) until the client closes, for at
      // most 10 s.
      char buf[4096];
      pollfd p{c, POLLIN, 0};
      while (::poll(&p, 1, 10000) == 1 && ::recv(c, buf, sizeof buf, 0) > 0) {
      }
    }
    ::close(c);
  });
  const int before = open_fds();
  weft::RuntimeOptions ro;
  ro.workers = 1;
  weft::run(
      [](std::uint16_t port) -> weft::Task<void> {
        mysql::ConnectOptions o = tcp_options();
        o.port = port;
        o.tls = mysql::TlsMode::kRequire;
        EXPECT_THROW(co_await mysql::connect(o, 300ms), weft::TimeoutError);
      }(ntohs(addr.sin_port)),
      ro);
  EXPECT_EQ(open_fds(), before);
  server.join();
  ::close(listener);
}

TEST(MysqlConnect, ASessionKilledWhileIdleIsConnectionLostThereafter) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection victim = co_await mysql::connect(tcp_options());
    mysql::Connection killer = co_await mysql::connect(tcp_options());
    co_await killer.execute("KILL CONNECTION ?", victim.thread_id());
    EXPECT_THROW(co_await victim.fetch("SELECT 1"), mysql::ConnectionLost);
    EXPECT_FALSE(victim.is_open());
    EXPECT_THROW(co_await victim.fetch("SELECT 1"), mysql::ConnectionLost);
    EXPECT_EQ(co_await killer.fetchval<std::int64_t>("SELECT 1"), 1);
  }());
}

TEST(MysqlConnect, ASessionKilledMidStatementIsConnectionLost) {
  const int before = open_fds();
  weft::run([]() -> weft::Task<void> {
    mysql::Connection victim = co_await mysql::connect(tcp_options());
    mysql::Connection killer = co_await mysql::connect(tcp_options());
    const std::uint64_t id = victim.thread_id();
    auto kill = [&]() -> weft::Task<void> {
      co_await until_running(killer, id);
      co_await killer.execute("KILL CONNECTION ?", id);
    };
    auto sleeper = [&]() -> weft::Task<bool> {
      try {
        co_await victim.fetch("SELECT SLEEP(?)", 60);
      } catch (const mysql::ConnectionLost&) {
        co_return true;
      }
      co_return false;
    };
    auto [lost, none] = co_await weft::gather(sleeper(), kill());
    (void)none;
    EXPECT_TRUE(lost);
    EXPECT_FALSE(victim.is_open());
  }());
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlConnect, ACancelledStatementIsKilledAndTheConnectionStaysUsable) {
  const int before = open_fds();
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(tcp_options());
    mysql::Connection observer = co_await mysql::connect(tcp_options());
    const std::uint64_t id = c.thread_id();
    for (int k = 0; k < 2; ++k) {
      // A text query, then a prepared statement: each stopped by KILL QUERY, so the session
      // is idle again (not sleeping out its minute) and takes the next statement.
      if (k == 0) {
        EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT SLEEP(60)"), 100ms),
                     weft::TimeoutError);
      } else {
        EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT SLEEP(?)", 60), 100ms),
                     weft::TimeoutError);
      }
      EXPECT_TRUE(c.is_open());
      EXPECT_EQ(c.thread_id(), id);
      // The server marks the session idle just after its last packet: looked at until it
      // does, far less than the minute the statement would have run.
      std::string command;
      for (int i = 0; i < 2000 && command != "Sleep"; ++i) {
        if (i > 0) co_await weft::sleep(5ms);
        command = co_await observer.fetchval<std::string>(
            "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?", id);
      }
      EXPECT_EQ(command, "Sleep");
      EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT ?", 5), 5);
    }
  }());
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlConnect, AStreamCancelledMidwayIsStoppedOrItsConnectionClosed) {
  const int before = open_fds();
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(tcp_options());
    // Rows arrive for a while: the kill lands while they are sent (the connection is then
    // usable) or after the last left the server (they are still to read: it is closed).
    EXPECT_THROW(co_await weft::wait_for(
                     c.fetch("SELECT a.seq, REPEAT('x', 100) FROM seq_1_to_3000000 a"), 50ms),
                 weft::TimeoutError);
    if (c.is_open()) {
      EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 9"), 9);
    } else {
      EXPECT_THROW(co_await c.fetch("SELECT 1"), mysql::ConnectionLost);
    }
  }());
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlConnect, ASecondStatementAtOnceIsAUsageError) {
  weft::run([]() -> weft::Task<void> {
    mysql::Connection c = co_await mysql::connect(tcp_options());
    auto run = [&]() -> weft::Task<int> {
      try {
        co_await c.fetch("SELECT SLEEP(0.2)");
      } catch (const weft::UsageError&) {
        co_return 1;
      }
      co_return 0;
    };
    auto [a, b] = co_await weft::gather(run(), run());
    EXPECT_EQ(a + b, 1);  // exactly one of them found the connection busy
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 1"), 1);
  }());
}

}  // namespace
