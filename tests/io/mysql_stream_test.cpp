// mysql::Connection::stream against the test server: rows arrive in chunks whatever the
// result's size, text and prepared; the connection is busy while a stream is open; a stream
// dropped before its end closes its connection; a cancelled stream is stopped; errors come
// from next().
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"
#include "open_fds.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::tcp_options;
using weft_test::mysql::with_conn;

namespace {

using weft_test::open_fds;

TEST(MysqlStream, RowsOfAResultPastTheLimitArriveInChunks) {
  weft::RuntimeOptions ro;
  ro.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        mysql::ConnectOptions o = tcp_options();
        o.max_result_bytes = 10000;  // a stream is not held whole: the bound does not apply
        mysql::Connection c = co_await mysql::connect(o);
        for (int k = 0; k < 2; ++k) {
          weft::AsyncGenerator<mysql::Row> rows =
              k == 0
                  ? c.stream("SELECT seq, REPEAT('x', 300) FROM seq_1_to_5000")
                  : c.stream("SELECT seq, REPEAT('x', ?) FROM seq_1_to_5000 WHERE seq > ?", 300, 0);
          std::int64_t count = 0, sum = 0;
          while (std::optional<mysql::Row> r = co_await rows.next()) {
            ++count;
            sum += r->get<std::int64_t>(0);
            if (r->get<std::string>(1).size() != 300) ADD_FAILURE() << "row " << count;
          }
          EXPECT_EQ(count, 5000);
          EXPECT_EQ(sum, 5000 * 5001 / 2);
        }
        EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 1"), 1);
      }(),
      ro);
}

TEST(MysqlStream, TheConnectionIsBusyWhileAStreamIsOpen) {
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    weft::AsyncGenerator<mysql::Row> rows = c.stream("SELECT seq FROM seq_1_to_10");
    std::optional<mysql::Row> first = co_await rows.next();
    EXPECT_EQ(first->get<int>(0), 1);
    EXPECT_THROW(co_await c.fetch("SELECT 1"), weft::UsageError);
    int n = 1;
    while (co_await rows.next()) ++n;
    EXPECT_EQ(n, 10);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 2"), 2);
    // A statement without rows streams none.
    weft::AsyncGenerator<mysql::Row> none = c.stream("DO 1");
    EXPECT_FALSE((co_await none.next()).has_value());
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 3"), 3);
  });
}

TEST(MysqlStream, AStreamDroppedBeforeItsEndClosesItsConnection) {
  const int before = open_fds();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    {
      weft::AsyncGenerator<mysql::Row> rows = c.stream("SELECT seq FROM seq_1_to_100000");
      for (int i = 0; i < 10; ++i) EXPECT_TRUE((co_await rows.next()).has_value());
    }
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW(co_await c.fetch("SELECT 1"), mysql::ConnectionLost);
  });
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlStream, ACancelledStreamIsStoppedOrItsConnectionClosed) {
  const int before = open_fds();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    auto consume = [&]() -> weft::Task<std::int64_t> {
      weft::AsyncGenerator<mysql::Row> rows =
          c.stream("SELECT a.seq FROM seq_1_to_3000000 a WHERE a.seq > ?", 0);
      std::int64_t n = 0;
      while (co_await rows.next()) ++n;
      co_return n;
    };
    EXPECT_THROW(co_await weft::wait_for(consume(), 50ms), weft::TimeoutError);
    if (c.is_open()) {
      EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 4"), 4);
    } else {
      EXPECT_THROW(co_await c.fetch("SELECT 1"), mysql::ConnectionLost);
    }
  });
  EXPECT_EQ(open_fds(), before);
}

TEST(MysqlStream, ErrorsComeFromNextAndLeaveTheConnectionUsable) {
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    weft::AsyncGenerator<mysql::Row> bad = c.stream("SELECT * FROM no_such_table");
    bool failed = false;
    try {
      (void)co_await bad.next();
    } catch (const mysql::Error& e) {
      failed = e.code() == 1146;
    }
    EXPECT_TRUE(failed);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT 5"), 5);
  });
}

}  // namespace
