// Batches of queries on pipeline mode (pg::Batch, Connection::run_batch, execute_many)
// against the test server: results in order and typed, batches far larger than the socket
// buffers in both directions, an error in the middle (its index, SQLSTATE, the rest not run,
// the batch rolled back), batches in a transaction, cancellation and a terminated backend
// leaving the connection usable or closed, the empty batch.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"
#include "pg_test_util.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;
using weft_test::pg::until_running;
using weft_test::pg::with_conn;

namespace {

/// ASSERT_EQ for a coroutine (GoogleTest's ASSERT_* return, which a coroutine cannot).
#define CO_ASSERT_EQ(a, b)        \
  do {                            \
    EXPECT_EQ(a, b);              \
    if (!((a) == (b))) co_return; \
  } while (0)

/// True if the connection is out of pipeline mode (libpq's own view).
bool pipeline_off(const pg::Connection& c) {
  return PQpipelineStatus(c.native()) == PQ_PIPELINE_OFF;
}

TEST(PgPipeline, ResultsComeBackInOrderAndTyped) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE t (id int4 PRIMARY KEY, name text)");
    pg::Batch b;
    b.add("INSERT INTO t VALUES ($1, $2)", 1, "one");
    b.add("INSERT INTO t VALUES ($1, $2)", 2, std::optional<std::string>());
    b.add("SELECT $1::int8 * 2 AS doubled, $2 AS label", std::int64_t{21}, "x");
    b.add("SELECT id, name FROM t ORDER BY id");
    b.add("UPDATE t SET name = $1 WHERE id > $2", "many", 0);
    pg::Params built;  // parameters assembled at run time
    built.add(7);
    built.add(std::optional<std::string>());
    b.add_params("SELECT $1::int4 AS n, $2::text AS nothing", built);
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    EXPECT_TRUE(pipeline_off(c));
    CO_ASSERT_EQ(rs.size(), 6u);
    EXPECT_EQ(rs[5][0].get<std::int32_t>("n"), 7);
    EXPECT_TRUE(rs[5][0].is_null(1));
    EXPECT_EQ(rs[0].command_tag(), "INSERT 0 1");
    EXPECT_EQ(rs[1].affected_rows(), 1u);
    EXPECT_EQ(rs[2][0].get<std::int64_t>("doubled"), 42);
    EXPECT_EQ(rs[2][0].get<std::string>("label"), "x");
    CO_ASSERT_EQ(rs[3].size(), 2u);
    EXPECT_EQ(rs[3][0].get<std::int32_t>(0), 1);
    EXPECT_EQ(rs[3][0].get<std::string>(1), "one");
    EXPECT_EQ(rs[3][1].get<std::optional<std::string>>(1), std::nullopt);
    EXPECT_EQ(rs[4].affected_rows(), 2u);
    // The connection goes on with ordinary queries.
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t WHERE name = $1", "many"),
              2);
  });
}

TEST(PgPipeline, TenThousandQueriesInOneBatchComeBackInOrder) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Batch b;
    for (int i = 0; i < 10000; ++i) b.add("SELECT $1::int4 + 1", i);
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    CO_ASSERT_EQ(rs.size(), 10000u);
    for (int i = 0; i < 10000; ++i) {
      CO_ASSERT_EQ(rs[static_cast<std::size_t>(i)][0].get<std::int32_t>(0), i + 1);
    }
    // One statement, prepared once and kept in the cache.
    EXPECT_EQ(c.cached_statements(), 1u);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1::int4 + 1", 7), 8);
    EXPECT_EQ(c.cached_statements(), 1u);
  });
}

TEST(PgPipeline, AHundredThousandQueriesWithLargeAnswersNeverDeadlock) {
  // The answers (about 10 MB) fill the socket buffers long before the queries are all sent:
  // the batch must read while it sends.
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Batch b;
    b.reserve(100000);
    for (int i = 0; i < 100000; ++i) b.add("SELECT $1::int4, repeat('x', 100)", i);
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    CO_ASSERT_EQ(rs.size(), 100000u);
    EXPECT_EQ(rs[99999][0].get<std::int32_t>(0), 99999);
    EXPECT_EQ(rs[99999][0].get<std::string>(1), std::string(100, 'x'));
  });
}

TEST(PgPipeline, AHugeAnswerWhileHugeQueriesAreStillBeingSentNeverDeadlocks) {
  // The first answer (32 MiB) is more than the socket buffers hold, so the server blocks
  // sending it and stops reading; the queries after it (24 MiB) are more than the buffers
  // take, so we cannot send them all either. Unless the batch reads while it waits to send,
  // both sides wait forever.
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    const std::string mib(1 << 20, 'q');
    pg::Batch b;
    b.add("SELECT repeat('a', 32 * 1024 * 1024)");
    for (int i = 0; i < 24; ++i) b.add("SELECT length($1::text)", mib);
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    CO_ASSERT_EQ(rs.size(), 25u);
    EXPECT_EQ(rs[0][0].get<std::string>(0).size(), 32u << 20);
    EXPECT_EQ(rs[24][0].get<std::int32_t>(0), 1 << 20);
  });
}

TEST(PgPipeline, LargeQueriesAndLargeAnswersBothWaysNeverDeadlock) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    const std::string big(16 * 1024, 'y');
    pg::Batch b;
    for (int i = 0; i < 2000; ++i) b.add("SELECT $1::text || $2::text", big, std::to_string(i));
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    CO_ASSERT_EQ(rs.size(), 2000u);
    EXPECT_EQ(rs[1999][0].get<std::string>(0), big + "1999");
  });
}

TEST(PgPipeline, AnErrorInTheMiddleNamesItsQueryAndRollsTheBatchBack) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE t (id int4 PRIMARY KEY)");
    pg::Batch b;
    b.add("INSERT INTO t VALUES ($1)", 1);
    b.add("INSERT INTO t VALUES ($1)", 2);
    b.add("SELECT 1 / $1::int4", 0);
    b.add("INSERT INTO t VALUES ($1)", 3);
    b.add("INSERT INTO t VALUES ($1)", 4);
    try {
      (void)co_await c.run_batch(b);
      ADD_FAILURE() << "no error";
    } catch (const pg::BatchError& e) {
      EXPECT_EQ(e.sqlstate(), "22012") << e.what();  // division_by_zero
      EXPECT_EQ(e.index(), 2u);
      EXPECT_EQ(e.batch_size(), 5u);
      EXPECT_EQ(e.query(), "SELECT 1 / $1::int4");
      const std::string what = e.what();
      EXPECT_NE(what.find("query 2"), std::string::npos) << what;
      EXPECT_NE(what.find("the 2 after it were not run"), std::string::npos) << what;
      EXPECT_NE(what.find("division by zero"), std::string::npos) << what;
    }
    EXPECT_TRUE(pipeline_off(c));
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    // One implicit transaction: the two before the error are rolled back, the two after it
    // never ran.
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t"), 0);
    // The connection and the batch's statements stay usable.
    pg::Batch again;
    again.add("INSERT INTO t VALUES ($1)", 5);
    again.add("SELECT count(*) FROM t");
    const std::vector<pg::Result> rs = co_await c.run_batch(again);
    EXPECT_EQ(rs[1][0].get<std::int64_t>(0), 1);
  });
}

TEST(PgPipeline, AnErrorIsCaughtAsAPlainPgErrorToo) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Batch b;
    b.add("SELECT 1");
    b.add("SELEC 2");  // a syntax error, found when the statement is prepared
    b.add("SELECT 3");
    try {
      (void)co_await c.run_batch(b);
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42601") << e.what();  // syntax_error
      EXPECT_EQ(e.query(), "SELEC 2");
      EXPECT_NE(std::string(e.what()).find("query 1"), std::string::npos) << e.what();
    }
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 4"), 4);
  });
}

TEST(PgPipeline, ABatchInATransactionCommitsWithItAndAnErrorFailsIt) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE t (id int4 PRIMARY KEY)");
    co_await c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      pg::Batch b;
      for (int i = 0; i < 10; ++i) b.add("INSERT INTO t VALUES ($1)", i);
      (void)co_await c.run_batch(b);
      EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kInTransaction);
    });
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t"), 10);

    co_await c.execute("BEGIN");
    co_await c.execute("INSERT INTO t VALUES ($1)", 100);
    pg::Batch dup;
    dup.add("INSERT INTO t VALUES ($1)", 101);
    dup.add("INSERT INTO t VALUES ($1)", 1);  // exists: unique_violation
    EXPECT_THROW((void)co_await c.run_batch(dup), pg::BatchError);
    EXPECT_TRUE(pipeline_off(c));
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kFailed);
    co_await c.execute("ROLLBACK");
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t"), 10);
  });
}

TEST(PgPipeline, ExecuteManyRunsOneStatementPerRowAndCountsTheRows) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE t (id int4, name text)");
    std::vector<std::tuple<int, std::string>> rows;
    for (int i = 0; i < 1000; ++i) rows.emplace_back(i, "row " + std::to_string(i));
    EXPECT_EQ(co_await c.execute_many("INSERT INTO t VALUES ($1, $2)", rows), 1000u);
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT name FROM t WHERE id = $1", 999), "row 999");
    const std::vector<std::pair<std::string, int>> updates = {{"a", 10}, {"b", 5}};
    EXPECT_EQ(co_await c.execute_many("UPDATE t SET name = $1 WHERE id < $2", updates), 15u);
  });
}

TEST(PgPipeline, WithTheStatementCacheOffQueriesAreSentUnnamed) {
  weft::run([]() -> weft::Task<void> {
    pg::ConnectOptions o;
    o.statement_cache_size = 0;
    pg::Connection c = co_await pg::connect(server().conninfo(), o);
    pg::Batch b;
    for (int i = 0; i < 1000; ++i) b.add("SELECT $1::int4", i);
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    EXPECT_EQ(rs[999][0].get<std::int32_t>(0), 999);
    EXPECT_EQ(c.cached_statements(), 0u);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM pg_prepared_statements"), 0);
  }());
}

TEST(PgPipeline, MoreStatementsThanTheCacheHoldsRunAndTheEvictedAreDeallocated) {
  weft::run([]() -> weft::Task<void> {
    pg::ConnectOptions o;
    o.statement_cache_size = 2;
    pg::Connection c = co_await pg::connect(server().conninfo(), o);
    pg::Batch b;
    for (int round = 0; round < 3; ++round) {
      for (int k = 0; k < 5; ++k) b.add("SELECT $1::int4 + " + std::to_string(k), round);
    }
    const std::vector<pg::Result> rs = co_await c.run_batch(b);
    CO_ASSERT_EQ(rs.size(), 15u);
    for (int round = 0; round < 3; ++round) {
      for (int k = 0; k < 5; ++k) {
        EXPECT_EQ(rs[static_cast<std::size_t>(round * 5 + k)][0].get<std::int32_t>(0), round + k);
      }
    }
    EXPECT_EQ(c.cached_statements(), 2u);
    // The next query deallocates the statements the cache let go first (the query itself is
    // prepared and cached too, and takes the place of one; that one goes before the next).
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM pg_prepared_statements "
                                                "WHERE statement LIKE 'SELECT $1::int4 + %'"),
              2);
  }());
}

TEST(PgPipeline, ACopyIsRefusedWhenAddedAndItsRowsAreDroppedIfItSlipsThrough) {
  pg::Batch refused;
  EXPECT_THROW(refused.add("  copy t FROM STDIN"), std::invalid_argument);
  EXPECT_TRUE(refused.empty());
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    // Not recognised as a COPY when added (the comment): the server sends its rows, which are
    // read and dropped, and the batch fails on it.
    pg::Batch out;
    out.add("/* rows */ COPY (SELECT generate_series(1, 100000)) TO STDOUT");
    out.add("SELECT 3");
    try {
      (void)co_await c.run_batch(out);
      ADD_FAILURE() << "no error";
    } catch (const pg::BatchError& e) {
      EXPECT_EQ(e.index(), 0u);
      EXPECT_NE(std::string(e.what()).find("COPY TO STDOUT is not supported in a batch"),
                std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(pipeline_off(c));
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 4"), 4);
  });
}

TEST(PgPipeline, ATimeoutMidBatchRaisesTimeoutErrorAndLeavesTheConnectionUsable) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    co_await c.execute("CREATE TEMP TABLE t (id int4)");
    pg::Batch b;
    for (int i = 0; i < 1000; ++i) b.add("INSERT INTO t VALUES ($1)", i);
    b.add("SELECT pg_sleep(60)");
    for (int i = 0; i < 1000; ++i) b.add("INSERT INTO t VALUES ($1)", i);
    EXPECT_THROW((void)co_await weft::wait_for(c.run_batch(b), 50ms), weft::TimeoutError);
    EXPECT_TRUE(c.is_open());
    EXPECT_TRUE(pipeline_off(c));
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await c.fetchval<std::int64_t>("SELECT count(*) FROM t"), 0);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1 + 1", 41), 42);
  });
}

TEST(PgPipeline, ACancelledBatchRaisesCancelledErrorAndTheServerStopsIt) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection observer = co_await pg::connect(server().conninfo());
    const int pid = c.backend_pid();
    pg::Batch b;
    b.add("SELECT 1");
    b.add("SELECT pg_sleep(60)");
    b.add("SELECT 3");
    auto h = weft::spawn(c.run_batch(b));
    co_await until_running(observer, pid);
    h.cancel();
    EXPECT_THROW((void)co_await h, weft::CancelledError);
    EXPECT_TRUE(co_await observer.fetchval<bool>(
        "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $1", pid));
    EXPECT_TRUE(pipeline_off(c));
    EXPECT_EQ(co_await c.fetchval<std::string>("SELECT 'still here'"), "still here");
  });
}

TEST(PgPipeline, ATimeoutWhileABigBatchIsStillBeingSentLeavesTheConnectionUsable) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Batch b;
    for (int i = 0; i < 30000; ++i) b.add("SELECT $1::int4, repeat('z', 200)", i);
    for (int round = 0; round < 2; ++round) {
      try {
        (void)co_await weft::wait_for(c.run_batch(b), 2ms);
      } catch (const weft::TimeoutError&) {
        // expected unless the machine ran the whole batch in time
      }
      EXPECT_TRUE(c.is_open());
      EXPECT_TRUE(pipeline_off(c));
      EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT $1::int4", round), round);
    }
  });
}

TEST(PgPipeline, ATerminatedBackendMidBatchIsConnectionLost) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    pg::Connection killer = co_await pg::connect(server().conninfo());
    const int pid = c.backend_pid();
    pg::Batch b;
    b.add("SELECT 1");
    b.add("SELECT pg_sleep(60)");
    b.add("SELECT 3");
    auto h = weft::spawn(c.run_batch(b));
    co_await until_running(killer, pid);
    EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
    try {
      (void)co_await h;
      ADD_FAILURE() << "no error";
    } catch (const pg::ConnectionLost& e) {
      EXPECT_EQ(e.sqlstate(), "57P01") << e.what();  // admin_shutdown
      EXPECT_NE(std::string(e.what()).find("connection lost"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
    EXPECT_THROW((void)co_await c.run_batch(b), pg::ConnectionLost);
  });
}

TEST(PgPipeline, AnEmptyBatchReturnsNoResultsWithoutARoundTrip) {
  with_conn([](pg::Connection& c) -> weft::Task<void> {
    const pg::Batch b;
    EXPECT_TRUE((co_await c.run_batch(b)).empty());
    EXPECT_TRUE(pipeline_off(c));
    const std::vector<std::tuple<int>> none;
    EXPECT_EQ(co_await c.execute_many("SELECT $1::int4", none), 0u);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 5"), 5);
  });
}

TEST(PgPipeline, ABatchOnAClosedConnectionIsAUsageError) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    c.close();
    pg::Batch b;
    b.add("SELECT 1");
    EXPECT_THROW((void)co_await c.run_batch(b), weft::UsageError);
  }());
}

TEST(PgPipeline, BatchKeepsEachQuerysSql) {
  pg::Batch b;
  b.add("SELECT $1::int4", 1).add("SELECT $1::int4", 2).add("SELECT 'other'");
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.sql(1), "SELECT $1::int4");
  EXPECT_EQ(b.sql(2), "SELECT 'other'");
  EXPECT_THROW((void)b.sql(3), std::out_of_range);
  // A query refused when added leaves the batch as it was.
  pg::Params many;
  for (int i = 0; i < 65536; ++i) many.add(i);
  EXPECT_THROW(b.add_params("SELECT 'too many'", many), std::length_error);
  EXPECT_THROW(b.add("COPY t TO STDOUT"), std::invalid_argument);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.sql(2), "SELECT 'other'");
  b.clear();
  EXPECT_TRUE(b.empty());
}

}  // namespace
