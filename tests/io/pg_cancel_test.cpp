// Cancelling a weft task in the middle of a query (pg_sleep on the test server): the cancel
// request reaches the server, the caller gets CancelledError or TimeoutError, and the
// connection is usable afterwards, in or out of a transaction.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"
#include "pg_test_util.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;
using weft_test::pg::until_running;

namespace {

/// True if backend `pid` runs nothing now (its state in pg_stat_activity).
weft::Task<bool> is_idle(pg::Connection& observer, int pid) {
  co_return co_await observer.fetchval<std::optional<bool>>(
      "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $1", pid) == true;
}

TEST(PgCancel, ATimeoutMidQueryRaisesTimeoutErrorAndLeavesTheConnectionUsable) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    pg::Connection observer = co_await pg::connect(server().conninfo());
    EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT pg_sleep(60)"), 50ms), weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    // The server is no longer running the query: it was cancelled, not left to finish.
    EXPECT_TRUE(co_await is_idle(observer, c.backend_pid()));
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1 + 1", 41), 42);
  }());
}

TEST(PgCancel, ACancelledTaskRaisesCancelledErrorAndTheServerStopsTheQuery) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    pg::Connection observer = co_await pg::connect(server().conninfo());
    const int pid = c.backend_pid();
    auto h = weft::spawn(c.fetch("SELECT pg_sleep(60)"));
    co_await until_running(observer, pid);
    h.cancel();
    EXPECT_THROW(co_await h, weft::CancelledError);
    EXPECT_TRUE(co_await is_idle(observer, pid));
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT 'still here'"), "still here");
  }());
}

TEST(PgCancel, ACancelledQueryInATransactionLeavesItFailedAndRollbackWorks) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TEMP TABLE t (x int4)");
    co_await c.execute("BEGIN");
    co_await c.execute("INSERT INTO t VALUES ($1)", 1);
    EXPECT_THROW(co_await weft::wait_for(c.execute("SELECT pg_sleep(60)"), 50ms),
                 weft::TimeoutError);
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kFailed);
    co_await c.execute("ROLLBACK");
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t"), 0);
  }());
}

TEST(PgCancel, ACancelledSimpleQueryIsDrainedToo) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    EXPECT_THROW(
        co_await weft::wait_for(c.execute("SELECT 1; SELECT pg_sleep(60); SELECT 2"), 50ms),
        weft::TimeoutError);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 3"), 3);
  }());
}

TEST(PgCancel, ATimeoutWhileSendingALargeQueryStillLeavesTheConnectionUsable) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    const std::string big(8 << 20, 'x');  // more than the socket buffers take at once
    EXPECT_THROW(co_await weft::wait_for(c.fetch("SELECT length($1), pg_sleep(60)", big), 1ms),
                 weft::TimeoutError);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 5"), 5);
  }());
}

TEST(PgCancel, ManyTimedOutQueriesInARowKeepTheConnectionInStep) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    for (int i = 0; i < 20; ++i) {
      try {
        (void)co_await weft::wait_for(
            c.fetchval<std::int32_t>("SELECT $1 FROM pg_sleep(0.005 * $1)", i % 3), 5ms);
      } catch (const weft::TimeoutError&) {
        // either outcome is fine; what follows must see its own result
      }
      EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1", i), i);
    }
  }());
}

}  // namespace
