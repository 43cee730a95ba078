// Connection::transaction: committed when the body returns, rolled back when it throws, is
// cancelled or times out; savepoints when nested; isolation levels and read-only; a body
// that swallowed the error of its aborted transaction does not commit.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
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

/// A connection with an empty table `t (x int4)` of its own (the table's name is per test,
/// so other connections can look at it).
struct Fixture {
  pg::Connection c;
  pg::Connection other;
  std::string table;
};

weft::Task<Fixture> setup(const std::string& table) {
  // One statement per step: GCC 12 mishandles co_await inside braced initialisers and
  // temporaries with destructors in a co_await's full-expression.
  Fixture f;
  f.c = co_await pg::connect(server().conninfo());
  f.other = co_await pg::connect(server().conninfo());
  f.table = table;
  const std::string sql = "DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (x int4)";
  co_await f.c.execute(sql);
  co_return f;
}

/// The values in `table` as another connection sees them, in order, as "1,3".
weft::Task<std::string> committed(pg::Connection& other, const std::string& table) {
  const std::string sql = "SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '') FROM " + table;
  co_return co_await other.fetchval<std::string>(sql);
}

TEST(PgTransaction, ABodyThatReturnsIsCommittedAndItsValueReturned) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_commit");
    const int n = co_await f.c.transaction([&](pg::Transaction& tx) -> weft::Task<int> {
      EXPECT_FALSE(tx.nested());
      co_await f.c.execute("INSERT INTO tx_commit VALUES ($1), ($2)", 1, 2);
      // Not visible outside before the commit.
      EXPECT_EQ(co_await committed(f.other, "tx_commit"), "");
      co_return 7;
    });
    EXPECT_EQ(n, 7);
    EXPECT_EQ(co_await committed(f.other, "tx_commit"), "1,2");
    EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kIdle);
  }());
}

TEST(PgTransaction, ABodyThatThrowsIsRolledBackAndTheErrorGoesOn) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_throw");
    try {
      co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
        co_await f.c.execute("INSERT INTO tx_throw VALUES ($1)", 1);
        throw std::runtime_error("body failed");
      });
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "body failed");
    }
    EXPECT_EQ(co_await committed(f.other, "tx_throw"), "");
    EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kIdle);
  }());
}

TEST(PgTransaction, AServerErrorInTheBodyRollsBack) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_sqlerr");
    EXPECT_THROW(co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      co_await f.c.execute("INSERT INTO tx_sqlerr VALUES ($1)", 1);
      co_await f.c.execute("INSERT INTO tx_sqlerr VALUES (1/0)");
    }),
                 pg::Error);
    EXPECT_EQ(co_await committed(f.other, "tx_sqlerr"), "");
    EXPECT_EQ(co_await f.c.fetchval<std::int32_t>("SELECT 1"), 1);
  }());
}

TEST(PgTransaction, ACancelledBodyIsRolledBackAndTheConnectionIsUsable) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_cancel");
    const int pid = f.c.backend_pid();
    auto h = weft::spawn(f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      co_await f.c.execute("INSERT INTO tx_cancel VALUES ($1)", 1);
      co_await f.c.execute("SELECT pg_sleep(60)");
    }));
    co_await until_running(f.other, pid);
    h.cancel();
    EXPECT_THROW(co_await h, weft::CancelledError);
    EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await committed(f.other, "tx_cancel"), "");
    EXPECT_EQ(co_await f.c.fetchval<std::int32_t>("SELECT 2"), 2);
  }());
}

TEST(PgTransaction, ATimedOutBodyIsRolledBackWithTimeoutError) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_timeout");
    EXPECT_THROW(co_await weft::wait_for(f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
                   co_await f.c.execute("INSERT INTO tx_timeout VALUES ($1)", 1);
                   co_await f.c.execute("SELECT pg_sleep(60)");
                 }),
                                         50ms),
                 weft::TimeoutError);
    EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await committed(f.other, "tx_timeout"), "");
  }());
}

TEST(PgTransaction, ANestedFailureRollsBackToItsSavepointOnly) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_nested");
    co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      co_await f.c.execute("INSERT INTO tx_nested VALUES ($1)", 1);
      try {
        co_await f.c.transaction([&](pg::Transaction& inner) -> weft::Task<void> {
          EXPECT_TRUE(inner.nested());
          co_await f.c.execute("INSERT INTO tx_nested VALUES ($1)", 2);
          co_await f.c.execute("SELECT 1/0");
        });
        ADD_FAILURE() << "no error";
      } catch (const pg::Error& e) {
        EXPECT_EQ(e.sqlstate(), "22012");
      }
      EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kInTransaction);
      co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
        co_await f.c.execute("INSERT INTO tx_nested VALUES ($1)", 3);
      });
    });
    EXPECT_EQ(co_await committed(f.other, "tx_nested"), "1,3");
  }());
}

TEST(PgTransaction, ThreeLevelsNestAndCommitTogether) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_deep");
    co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      co_await f.c.transaction([&](pg::Transaction& a) -> weft::Task<void> {
        co_await f.c.transaction([&](pg::Transaction& b) -> weft::Task<void> {
          EXPECT_NE(a.savepoint(), b.savepoint());
          co_await f.c.execute("INSERT INTO tx_deep VALUES ($1)", 1);
        });
        co_await f.c.execute("INSERT INTO tx_deep VALUES ($1)", 2);
      });
    });
    EXPECT_EQ(co_await committed(f.other, "tx_deep"), "1,2");
  }());
}

TEST(PgTransaction, IsolationLevelAndReadOnlyReachTheServer) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_iso");
    co_await f.c.transaction(
        [&](pg::Transaction&) -> weft::Task<void> {
          EXPECT_EQ(
              co_await f.c.fetchval<std::string>("SELECT current_setting('transaction_isolation')"),
              "serializable");
          try {
            // In a savepoint, so that the outer transaction survives the error.
            co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
              co_await f.c.execute("INSERT INTO tx_iso VALUES ($1)", 1);
            });
            ADD_FAILURE() << "no error";
          } catch (const pg::Error& e) {
            EXPECT_EQ(e.sqlstate(), "25006");  // read_only_sql_transaction
          }
        },
        {.isolation = pg::IsolationLevel::kSerializable, .read_only = true});
  }());
}

TEST(PgTransaction, ABodyThatSwallowedTheAbortingErrorIsNotCommitted) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_swallow");
    try {
      co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
        co_await f.c.execute("INSERT INTO tx_swallow VALUES ($1)", 1);
        try {
          co_await f.c.execute("SELECT 1/0");
        } catch (const pg::Error&) {
          // swallowed: the transaction is aborted all the same
        }
      });
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "25P02");
      EXPECT_NE(std::string(e.what()).find("rolled back"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f.c.transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await committed(f.other, "tx_swallow"), "");
  }());
}

TEST(PgTransaction, OptionsOnANestedTransactionAreAUsageError) {
  weft::run([]() -> weft::Task<void> {
    Fixture f = co_await setup("tx_opts");
    co_await f.c.transaction([&](pg::Transaction&) -> weft::Task<void> {
      EXPECT_THROW(co_await f.c.transaction([](pg::Transaction&) -> weft::Task<void> { co_return; },
                                            {.isolation = pg::IsolationLevel::kSerializable}),
                   weft::UsageError);
    });
  }());
}

}  // namespace
