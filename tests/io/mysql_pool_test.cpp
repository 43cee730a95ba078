// mysql::Pool against the test server: connections are reused, bounded by max_size, and an
// exhausted pool times out; a lease left in a transaction is rolled back before the next
// borrower; a connection whose session was killed while idle, or in the middle of a
// transaction's statement, is replaced, and what that transaction wrote is gone.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

#include "mysql_server.hpp"
#include "mysql_test_util.hpp"

using namespace std::chrono_literals;
namespace mysql = weft::mysql;
using weft_test::mysql::run_sql;
using weft_test::mysql::tcp_options;

namespace {

mysql::PoolOptions sized(std::size_t max_size) {
  mysql::PoolOptions o;
  o.max_size = max_size;
  return o;
}

TEST(MysqlPool, AReturnedConnectionIsLentAgain) {
  weft::run([]() -> weft::Task<void> {
    mysql::Pool pool(tcp_options());
    std::uint64_t first = 0;
    {
      auto conn = co_await pool.acquire();
      first = conn->thread_id();
      EXPECT_EQ(co_await conn->fetchval<std::int64_t>("SELECT ?", 1), 1);
    }
    {
      auto conn = co_await pool.acquire();
      EXPECT_EQ(conn->thread_id(), first);
    }
    EXPECT_EQ(co_await pool.fetchval<std::int64_t>("SELECT 2"), 2);
    EXPECT_EQ(co_await pool.fetchval<std::int64_t>("SELECT ? + 1", 2), 3);
    EXPECT_EQ(pool.size(), 1u);
    co_await pool.close();
  }());
}

TEST(MysqlPool, ManyTasksShareAtMostMaxSizeConnections) {
  weft::RuntimeOptions ro;
  ro.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        mysql::Pool pool(tcp_options(), sized(3));
        std::vector<weft::JoinHandle<std::int64_t>> hs;
        for (int i = 0; i < 12; ++i) {
          hs.push_back(weft::spawn([](mysql::Pool& pool, int i) -> weft::Task<std::int64_t> {
            auto conn = co_await pool.acquire();
            co_return co_await conn->fetchval<std::int64_t>(
                "SELECT ? FROM DUAL WHERE SLEEP(0.01) = 0", i);
          }(pool, i)));
        }
        std::int64_t sum = 0;
        for (auto& h : hs) sum += co_await h;
        EXPECT_EQ(sum, 66);
        EXPECT_LE(pool.size(), 3u);
        co_await pool.close();
      }(),
      ro);
}

TEST(MysqlPool, AnExhaustedPoolTimesOut) {
  weft::run([]() -> weft::Task<void> {
    mysql::Pool pool(tcp_options(), sized(1));
    auto held = co_await pool.acquire();
    EXPECT_THROW((void)co_await pool.acquire(50ms), weft::PoolTimeout);
    EXPECT_EQ(co_await held->fetchval<std::int64_t>("SELECT 1"), 1);
  }());
}

TEST(MysqlPool, ALeaseLeftInATransactionIsRolledBackBeforeTheNextBorrower) {
  run_sql("DROP TABLE IF EXISTS pooled");
  run_sql("CREATE TABLE pooled (id INT PRIMARY KEY) ENGINE=InnoDB");
  weft::run([]() -> weft::Task<void> {
    mysql::Pool pool(tcp_options(), sized(1));
    std::uint64_t id = 0;
    {
      auto conn = co_await pool.acquire();
      id = conn->thread_id();
      co_await conn->execute("START TRANSACTION");
      co_await conn->execute("INSERT INTO pooled VALUES (?)", 1);
      EXPECT_TRUE(conn->in_transaction());
    }
    auto conn = co_await pool.acquire();
    EXPECT_EQ(conn->thread_id(), id);
    EXPECT_FALSE(conn->in_transaction());
    EXPECT_EQ(co_await conn->fetchval<std::int64_t>("SELECT COUNT(*) FROM pooled"), 0);
  }());
}

TEST(MysqlPool, AConnectionKilledWhileIdleIsReplaced) {
  weft::run([]() -> weft::Task<void> {
    mysql::Pool pool(tcp_options(), sized(1));
    mysql::Connection admin = co_await mysql::connect(tcp_options());
    std::uint64_t id = 0;
    {
      auto conn = co_await pool.acquire();
      id = conn->thread_id();
    }
    co_await admin.execute("KILL CONNECTION ?", id);
    // The session is gone from the process list once the server closed its socket (on
    // loopback, its FIN is in our socket by then).
    for (int i = 0; i < 2000; ++i) {
      if (co_await admin.fetchval<std::int64_t>(
              "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id) == 0) {
        break;
      }
      co_await weft::sleep(5ms);
    }
    auto conn = co_await pool.acquire();
    EXPECT_NE(conn->thread_id(), id);
    EXPECT_EQ(co_await conn->fetchval<std::int64_t>("SELECT 7"), 7);
    EXPECT_EQ(pool.size(), 1u);
  }());
}

TEST(MysqlPool, AConnectionKilledMidStatementIsReplacedAndItsTransactionLost) {
  run_sql("DROP TABLE IF EXISTS pooled_kill");
  run_sql("CREATE TABLE pooled_kill (id INT PRIMARY KEY) ENGINE=InnoDB");
  weft::RuntimeOptions ro;
  ro.workers = 2;
  weft::run(
      []() -> weft::Task<void> {
        mysql::Pool pool(tcp_options(), sized(1));
        mysql::Connection admin = co_await mysql::connect(tcp_options());
        std::uint64_t id = 0;
        weft::Event started;
        auto victim = [&]() -> weft::Task<bool> {
          auto conn = co_await pool.acquire();
          id = conn->thread_id();
          try {
            co_await conn->transaction([&](mysql::Transaction&) -> weft::Task<void> {
              co_await conn->execute("INSERT INTO pooled_kill VALUES (?)", 1);
              started.set();
              co_await conn->fetch("SELECT SLEEP(?)", 60);
            });
          } catch (const mysql::ConnectionLost&) {
            co_return true;
          }
          co_return false;
        };
        auto killer = [&]() -> weft::Task<void> {
          co_await started.wait();
          for (int i = 0; i < 2000; ++i) {
            if (co_await admin.fetchval<std::int64_t>(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND "
                    "STATE = 'User sleep'",
                    id) > 0) {
              break;
            }
            co_await weft::sleep(5ms);
          }
          co_await admin.execute("KILL CONNECTION ?", id);
        };
        auto [lost, none] = co_await weft::gather(victim(), killer());
        (void)none;
        EXPECT_TRUE(lost);
        // The dead connection was not put back: the next lease is a new session, and the
        // killed transaction's row is not there.
        auto conn = co_await pool.acquire();
        EXPECT_NE(conn->thread_id(), id);
        EXPECT_EQ(co_await conn->fetchval<std::int64_t>("SELECT COUNT(*) FROM pooled_kill"), 0);
        EXPECT_EQ(pool.size(), 1u);
      }(),
      ro);
}

}  // namespace
