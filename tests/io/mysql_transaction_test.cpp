// mysql::Connection::transaction against the test server: commit on return, rollback on an
// exception and on cancellation, savepoints for nested transactions, read-only
// transactions, and a real deadlock whose victim's body goes on: its commit fails.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::run_sql;
using weft_test::mysql::tcp_options;
using weft_test::mysql::with_conn;

namespace {

void fresh_table() {
  run_sql("DROP TABLE IF EXISTS tx");
  run_sql("CREATE TABLE tx (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
}

weft::Task<std::int64_t> count(mysql::Connection& c) {
  co_return co_await c.fetchval<std::int64_t>("SELECT COUNT(*) FROM tx");
}

TEST(MysqlTransaction, CommitsWhenTheBodyReturns) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    const int v = co_await c.transaction([&](mysql::Transaction& tx) -> weft::Task<int> {
      EXPECT_FALSE(tx.nested());
      EXPECT_TRUE(c.in_transaction());
      co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
      co_return 10;
    });
    EXPECT_EQ(v, 10);
    EXPECT_FALSE(c.in_transaction());
    mysql::Connection other = co_await mysql::connect(tcp_options());
    EXPECT_EQ(co_await count(other), 1);
  });
}

TEST(MysqlTransaction, RollsBackWhenTheBodyThrows) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    bool caught = false;
    try {
      co_await c.transaction([&](mysql::Transaction&) -> weft::Task<void> {
        co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
        throw std::runtime_error("body failed");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "body failed";
    }
    EXPECT_TRUE(caught);
    EXPECT_FALSE(c.in_transaction());
    EXPECT_EQ(co_await count(c), 0);
  });
}

TEST(MysqlTransaction, ANestedTransactionIsASavepoint) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    co_await c.transaction([&](mysql::Transaction&) -> weft::Task<void> {
      co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
      try {
        co_await c.transaction([&](mysql::Transaction& inner) -> weft::Task<void> {
          EXPECT_TRUE(inner.nested());
          EXPECT_EQ(inner.savepoint(), "weft_sp_1");
          co_await c.execute("INSERT INTO tx VALUES (?, ?)", 2, 20);
          co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 30);  // duplicate key
        });
      } catch (const mysql::Error& e) {
        EXPECT_EQ(e.code(), 1062u);
      }
      co_await c.transaction([&](mysql::Transaction&) -> weft::Task<void> {
        co_await c.execute("INSERT INTO tx VALUES (?, ?)", 3, 30);
      });
      EXPECT_TRUE(c.in_transaction());
    });
    mysql::Result r = co_await c.fetch("SELECT id FROM tx ORDER BY id");
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].get<int>(0), 1);
    EXPECT_EQ(r[1].get<int>(0), 3);
  });
}

TEST(MysqlTransaction, OptionsApplyToTheOutermostOnly) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    mysql::TransactionOptions ro;
    ro.read_only = true;
    ro.isolation = mysql::IsolationLevel::kSerializable;
    bool refused = false;
    try {
      co_await c.transaction(
          [&](mysql::Transaction&) -> weft::Task<void> {
            co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
          },
          ro);
    } catch (const mysql::Error& e) {
      refused = e.code() == 1792;  // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    }
    EXPECT_TRUE(refused);
    EXPECT_FALSE(c.in_transaction());
    bool usage = false;
    co_await c.transaction([&](mysql::Transaction&) -> weft::Task<void> {
      try {
        co_await c.transaction([](mysql::Transaction&) -> weft::Task<void> { co_return; }, ro);
      } catch (const weft::UsageError&) {
        usage = true;
      }
    });
    EXPECT_TRUE(usage);
  });
}

TEST(MysqlTransaction, ACancelledBodyLeavesNothingCommitted) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    auto body = [&](mysql::Transaction&) -> weft::Task<void> {
      co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
      co_await c.fetch("SELECT SLEEP(60)");
    };
    EXPECT_THROW(co_await weft::wait_for(c.transaction(body), 200ms), weft::TimeoutError);
    // The sleep was stopped and the transaction rolled back: the connection is usable.
    EXPECT_TRUE(c.is_open());
    EXPECT_FALSE(c.in_transaction());
    EXPECT_EQ(co_await count(c), 0);
  });
}

TEST(MysqlTransaction, ABodyThatEndsItsTransactionFailsTheCommit) {
  fresh_table();
  with_conn([](mysql::Connection& c) -> weft::Task<void> {
    bool ended = false;
    try {
      co_await c.transaction([&](mysql::Transaction&) -> weft::Task<void> {
        co_await c.execute("INSERT INTO tx VALUES (?, ?)", 1, 10);
        co_await c.execute("CREATE TABLE IF NOT EXISTS tx_ddl (id INT)");  // commits
      });
    } catch (const mysql::Error& e) {
      ended = e.sqlstate() == "25000";
    }
    EXPECT_TRUE(ended);
    EXPECT_EQ(co_await count(c), 1);  // the DDL committed the insert
  });
}

TEST(MysqlTransaction, ADeadlockVictimsCommitFailsAndTheOtherCommits) {
  fresh_table();
  run_sql("INSERT INTO tx VALUES (1, 0), (2, 0)");
  weft::RuntimeOptions ro;
  ro.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        mysql::Connection a = co_await mysql::connect(tcp_options());
        mysql::Connection b = co_await mysql::connect(tcp_options());
        mysql::Connection observer = co_await mysql::connect(tcp_options());
        weft::Event a_locked, b_locked;
        // Each locks its first row, waits for the other's, then asks for the other's row:
        // InnoDB finds the cycle and rolls one transaction back (error 1213). Its body
        // catches the error and goes on, so its commit must fail.
        auto side = [&](mysql::Connection& me, int first, int second, weft::Event& mine,
                        weft::Event& theirs) -> weft::Task<int> {
          int deadlocks = 0;
          try {
            co_await me.transaction([&](mysql::Transaction&) -> weft::Task<void> {
              co_await me.execute("UPDATE tx SET v = v + 1 WHERE id = ?", first);
              mine.set();
              co_await theirs.wait();
              try {
                co_await me.execute("UPDATE tx SET v = v + 1 WHERE id = ?", second);
              } catch (const mysql::Error& e) {
                if (e.code() != 1213) throw;
                ++deadlocks;
              }
            });
          } catch (const mysql::Error& e) {
            EXPECT_EQ(e.code(), 1213u);
            EXPECT_NE(std::string(e.what()).find("rolled back by the server"), std::string::npos);
            deadlocks += 10;
          }
          co_return deadlocks;
        };
        auto [da, db] = co_await weft::gather(side(a, 1, 2, a_locked, b_locked),
                                              side(b, 2, 1, b_locked, a_locked));
        // One victim: it saw 1213 in its body (1) and again from its commit (10).
        EXPECT_EQ(da + db, 11);
        // The survivor's two updates committed; the victim's first was rolled back.
        mysql::Result r = co_await observer.fetch("SELECT SUM(v) FROM tx");
        EXPECT_EQ(r[0].get<std::string>(0), "2");
      }(),
      ro);
}

}  // namespace
