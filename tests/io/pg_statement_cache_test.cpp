// The per-connection cache of prepared statements: a query is prepared once and reused, the
// cache keeps at most its size (the evicted are deallocated on the server), it can be turned
// off, and a statement the server no longer accepts (a changed table, DEALLOCATE ALL) is
// prepared again without the caller noticing, outside a transaction.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

/// The statements prepared in the session now (on the server).
weft::Task<std::int64_t> prepared_on_server(pg::Connection& c) {
  co_return co_await c.fetchval<std::int64_t>("SELECT count(*) FROM pg_prepared_statements");
}

TEST(PgStatementCache, AQueryIsPreparedOnceAndReused) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1 + 1", i), i + 1);
    EXPECT_EQ(c.cached_statements(), 1u);
    EXPECT_EQ(
        co_await c.fetchval<std::int64_t>(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", "SELECT $1 + 1"),
        1);
  }());
}

TEST(PgStatementCache, TheSameSqlWithOtherParameterTypesIsAnotherStatement) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT $1::text", 5), "5");
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT $1::text", "five"), "five");
    EXPECT_EQ(c.cached_statements(), 2u);
  }());
}

TEST(PgStatementCache, TheCacheKeepsItsSizeAndDeallocatesTheEvicted) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c =
        co_await pg::connect(server().conninfo(), pg::ConnectOptions{.statement_cache_size = 2});
    for (int i = 0; i < 5; ++i) {
      const std::string sql = "SELECT " + std::to_string(i);
      EXPECT_EQ(co_await c.fetchval<std::int32_t>(sql), i);
    }
    EXPECT_EQ(c.cached_statements(), 2u);
    (void)co_await prepared_on_server(c);  // deallocates what the last inserts evicted
    EXPECT_EQ(co_await prepared_on_server(c), 2);
  }());
}

TEST(PgStatementCache, SizeZeroPreparesNothing) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c =
        co_await pg::connect(server().conninfo(), pg::ConnectOptions{.statement_cache_size = 0});
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1", 3), 3);
    EXPECT_EQ(c.cached_statements(), 0u);
    EXPECT_EQ(co_await prepared_on_server(c), 0);
  }());
}

TEST(PgStatementCache, AChangedTableIsPreparedAgain) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TEMP TABLE t (a int4); INSERT INTO t VALUES (1)");
    EXPECT_EQ((co_await c.fetch("SELECT * FROM t")).columns(), 1);
    co_await c.execute("ALTER TABLE t ADD COLUMN b text DEFAULT 'x'");
    pg::Result r = co_await c.fetch("SELECT * FROM t");
    EXPECT_EQ(r.columns(), 2);
    EXPECT_EQ(r[0].get<std::string>("b"), "x");
  }());
}

TEST(PgStatementCache, DeallocateAllByTheCallerIsSurvived) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1", 1), 1);
    co_await c.execute("DEALLOCATE ALL");
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1", 2), 2);
  }());
}

TEST(PgStatementCache, InATransactionAStaleStatementIsAnErrorAndThenPreparedAgain) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    co_await c.execute("CREATE TEMP TABLE t (a int4)");
    (void)co_await c.fetch("SELECT * FROM t");
    co_await c.execute("BEGIN; ALTER TABLE t ADD COLUMN b int4");
    try {
      (void)co_await c.fetch("SELECT * FROM t");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "0A000") << e.what();
    }
    co_await c.execute("ROLLBACK");
    EXPECT_EQ((co_await c.fetch("SELECT * FROM t")).columns(), 1);
  }());
}

}  // namespace
