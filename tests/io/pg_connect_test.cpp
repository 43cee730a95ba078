// weft::pg::connect against the test server: TCP with a host name and a numeric address,
// the Unix socket, password authentication, and the failures (refused, wrong password, no
// such database, unknown host, timeout, cancellation) as pg::ConnectionError naming where.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <vector>

#include <weft/io/net.hpp>
#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

/// A port on 127.0.0.1 where nothing listens (it did a moment ago).
int closed_port() {
  auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  return l.local_address().port();
}

/// The message of the ConnectionError that connecting to `conninfo` raises ("" if none).
std::string connect_error(const std::string& conninfo) {
  return weft::run([](std::string ci) -> weft::Task<std::string> {
    try {
      pg::Connection c = co_await pg::connect(ci, 10s);
    } catch (const pg::ConnectionError& e) {
      co_return e.what();
    }
    co_return "";
  }(conninfo));
}

TEST(PgConnect, ConnectsOverTcpAndRunsAQuery) {
  const int pid = weft::run([]() -> weft::Task<int> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    co_return co_await c.fetchval<std::int32_t>("SELECT pg_backend_pid()");
  }());
  EXPECT_GT(pid, 0);
}

TEST(PgConnect, ResolvesAHostNameOnWeftsResolver) {
  // libpq is given the address (hostaddr) next to the name, so it does no lookup itself.
  const std::string ci =
      "host=localhost port=" + std::to_string(server().port) + " user=weft dbname=postgres";
  const std::string addr = weft::run([](std::string ci) -> weft::Task<std::string> {
    pg::Connection c = co_await pg::connect(ci);
    EXPECT_STREQ(PQhost(c.native()), "localhost");
    EXPECT_STREQ(PQhostaddr(c.native()), "127.0.0.1");
    co_return co_await c.fetchval<std::string>("SELECT host(inet_client_addr())");
  }(ci));
  EXPECT_EQ(addr, "127.0.0.1");
}

TEST(PgConnect, ConnectsOverTheUnixSocket) {
  const bool unix_socket = weft::run([]() -> weft::Task<bool> {
    pg::Connection c = co_await pg::connect(server().unix_conninfo());
    co_return co_await c.fetchval<bool>("SELECT inet_client_addr() IS NULL");
  }());
  EXPECT_TRUE(unix_socket);
}

TEST(PgConnect, AcceptsAUri) {
  const std::string uri =
      "postgresql://weft@127.0.0.1:" + std::to_string(server().port) + "/postgres";
  const std::string user = weft::run([](std::string uri) -> weft::Task<std::string> {
    pg::Connection c = co_await pg::connect(uri);
    co_return co_await c.fetchval<std::string>("SELECT current_user");
  }(uri));
  EXPECT_EQ(user, "weft");
}

TEST(PgConnect, AuthenticatesWithScram) {
  const std::string user = weft::run([]() -> weft::Task<std::string> {
    pg::Connection c = co_await pg::connect(server().scram_conninfo(server().scram_password));
    co_return co_await c.fetchval<std::string>("SELECT current_user");
  }());
  EXPECT_EQ(user, "weft_scram");
}

TEST(PgConnect, AWrongPasswordIsAConnectionErrorSayingSo) {
  const std::string msg = connect_error(server().scram_conninfo("wrong"));
  EXPECT_NE(msg.find("password authentication failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("host=127.0.0.1"), std::string::npos) << msg;
}

TEST(PgConnect, ARefusedConnectionNamesTheHostAndPort) {
  const int port = closed_port();
  const std::string msg =
      connect_error("host=127.0.0.1 port=" + std::to_string(port) + " user=weft dbname=postgres");
  EXPECT_NE(msg.find("host=127.0.0.1 port=" + std::to_string(port)), std::string::npos) << msg;
  EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
}

TEST(PgConnect, AnUnknownDatabaseIsAConnectionError) {
  const std::string msg = connect_error("host=127.0.0.1 port=" + std::to_string(server().port) +
                                        " user=weft dbname=no_such_db");
  EXPECT_NE(msg.find("no_such_db"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(PgConnect, AnUnknownHostIsAConnectionErrorNamingIt) {
  const std::string msg = connect_error("host=no-such-host.invalid port=5432 user=weft");
  EXPECT_NE(msg.find("no-such-host.invalid"), std::string::npos) << msg;
}

TEST(PgConnect, AMalformedConninfoIsInvalidArgument) {
  EXPECT_THROW(weft::run(pg::connect("host=127.0.0.1 nonsense_key=1")), std::invalid_argument);
}

TEST(PgConnect, TimesOutWhenTheServerNeverAnswers) {
  // A listener that never accepts: the TCP handshake completes in the backlog, and the
  // server's first message never comes.
  auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  const std::string ci = "host=127.0.0.1 port=" + std::to_string(l.local_address().port()) +
                         " user=weft sslmode=disable";
  EXPECT_THROW(weft::run(pg::connect(ci, 50ms)), weft::TimeoutError);
}

TEST(PgConnect, ACancelledConnectEndsWithCancelledError) {
  auto l = weft::net::TcpListener::bind(weft::net::SocketAddress::ip("127.0.0.1", 0));
  const std::string ci = "host=127.0.0.1 port=" + std::to_string(l.local_address().port()) +
                         " user=weft sslmode=disable";
  const bool cancelled = weft::run([](std::string ci) -> weft::Task<bool> {
    auto h = weft::spawn(pg::connect(ci));
    co_await weft::yield_now();
    h.cancel();
    try {
      co_await h;
    } catch (const weft::CancelledError&) {
      co_return true;
    }
    co_return false;
  }(ci));
  EXPECT_TRUE(cancelled);
}

TEST(PgConnect, CloseEndsTheSession) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    c.close();
    EXPECT_FALSE(c.is_open());
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kUnknown);
    EXPECT_THROW(co_await c.fetch("SELECT 1"), weft::UsageError);
    c.close();  // idempotent
  }());
}

TEST(PgConnect, ServerNoticesGoToTheHook) {
  const std::vector<pg::Notice> notices = weft::run([]() -> weft::Task<std::vector<pg::Notice>> {
    std::vector<pg::Notice> seen;
    pg::ConnectOptions o;
    o.on_notice = [&seen](const pg::Notice& n) { seen.push_back(n); };
    pg::Connection c = co_await pg::connect(server().conninfo(), o);
    co_await c.execute(
        "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful' "
        "USING HINT = 'mind the step'; END $$");
    co_await c.execute("DROP TABLE IF EXISTS no_such_table_here");
    co_return seen;
  }());
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_EQ(notices[0].severity, "NOTICE");
  EXPECT_EQ(notices[0].sqlstate, "00000");
  EXPECT_EQ(notices[0].message, "hello 42");
  EXPECT_EQ(notices[1].severity, "WARNING");
  EXPECT_EQ(notices[1].hint, "mind the step");
  EXPECT_NE(notices[2].message.find("does not exist"), std::string::npos) << notices[2].message;
}

}  // namespace
