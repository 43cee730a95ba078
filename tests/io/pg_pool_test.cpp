// pg::Pool against the test server: connections are reused, bounded by max_size, and an
// exhausted pool times out; a lease left in a transaction is rolled back before the next
// borrower; a broken connection is replaced; close waits for the leases under a deadline;
// Connection::is_alive finds a connection the server closed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

TEST(PgPool, AReturnedConnectionIsLentAgain) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo());
    int first = 0;
    {
      auto conn = co_await pool.acquire();
      first = conn->backend_pid();
      EXPECT_EQ(co_await conn->fetchval<std::int32_t>("SELECT $1", 1), 1);
    }
    {
      auto conn = co_await pool.acquire();
      EXPECT_EQ(conn->backend_pid(), first);
    }
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_EQ(co_await pool.fetchval<std::int32_t>("SELECT 2"), 2);
    EXPECT_EQ(pool.size(), 1u);
    co_await pool.close();
  }());
}

TEST(PgPool, ManyTasksShareAtMostMaxSizeConnections) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.max_size = 3});
    std::vector<weft::JoinHandle<std::int32_t>> hs;
    for (int i = 0; i < 12; ++i) {
      hs.push_back(weft::spawn([](pg::Pool& pool, int i) -> weft::Task<std::int32_t> {
        auto conn = co_await pool.acquire();
        co_return co_await conn->fetchval<std::int32_t>("SELECT $1 FROM pg_sleep(0.01)", i);
      }(pool, i)));
    }
    std::int32_t sum = 0;
    for (auto& h : hs) sum += co_await h;
    EXPECT_EQ(sum, 66);
    EXPECT_LE(pool.size(), 3u);
    co_await pool.close();
  }());
}

TEST(PgPool, AnExhaustedPoolTimesOutNamingItself) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.name = "orders-db", .max_size = 1});
    auto held = co_await pool.acquire();
    try {
      auto conn = co_await pool.acquire(20ms);
      ADD_FAILURE() << "no timeout";
    } catch (const weft::PoolTimeout& e) {
      EXPECT_NE(std::string(e.what()).find("orders-db"), std::string::npos) << e.what();
    }
    held.release();
    auto conn = co_await pool.acquire(5s);  // the returned one
    EXPECT_TRUE(conn->is_open());
  }());
}

TEST(PgPool, ATransactionLeftOpenIsRolledBackBeforeTheNextBorrower) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.max_size = 1});
    co_await pool.execute("DROP TABLE IF EXISTS pool_tx; CREATE TABLE pool_tx (x int4)");
    {
      auto conn = co_await pool.acquire();
      co_await conn->execute("BEGIN");
      co_await conn->execute("INSERT INTO pool_tx VALUES ($1)", 1);
    }  // returned inside the transaction
    auto conn = co_await pool.acquire();
    EXPECT_EQ(conn->transaction_status(), pg::TransactionStatus::kIdle);
    EXPECT_EQ(co_await conn->fetchval<std::int64_t>("SELECT count(*) FROM pool_tx"), 0);
  }());
}

TEST(PgPool, ChannelsABorrowerListenedOnAreDroppedBeforeTheNextOne) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.max_size = 1});
    {
      auto conn = co_await pool.acquire();
      co_await conn->listen("pool_jobs");
      EXPECT_TRUE(conn->listening());
      co_await conn->notify("pool_jobs", "queued for the first borrower");
      (void)co_await conn->fetchval<std::int32_t>("SELECT 1");  // the notification arrives
    }  // returned listening, a notification queued
    auto conn = co_await pool.acquire();
    EXPECT_FALSE(conn->listening());
    // Nothing queued and nothing new: a NOTIFY now reaches no listener on this session.
    co_await conn->notify("pool_jobs", "after the reset");
    auto gen = conn->notifications();
    EXPECT_THROW((void)co_await weft::wait_for(gen.next(), 200ms), weft::TimeoutError);
  }());
}

TEST(PgPool, ALostConnectionIsReplaced) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.max_size = 1});
    pg::Connection killer = co_await pg::connect(server().conninfo());
    int pid = 0;
    {
      auto conn = co_await pool.acquire();
      pid = conn->backend_pid();
      EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
      EXPECT_THROW(co_await conn->fetch("SELECT 1"), pg::ConnectionLost);
    }  // destroyed, not returned
    auto conn = co_await pool.acquire();
    EXPECT_NE(conn->backend_pid(), pid);
    EXPECT_EQ(co_await conn->fetchval<std::int32_t>("SELECT 3"), 3);
  }());
}

TEST(PgPool, IsAliveFindsAConnectionTheServerClosed) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    pg::Connection killer = co_await pg::connect(server().conninfo());
    EXPECT_TRUE(c.is_alive());
    EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", c.backend_pid()));
    // The server's end of stream comes when it gets to it; poll for it, bounded.
    bool alive = true;
    for (int i = 0; i < 1000 && alive; ++i) {
      alive = c.is_alive();
      if (alive) co_await weft::sleep(5ms);
    }
    EXPECT_FALSE(alive);
    EXPECT_FALSE(c.is_open());
  }());
}

TEST(PgPool, CloseWaitsForLeasesUntilItsDeadline) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo());
    auto held = co_await pool.acquire();
    EXPECT_EQ(co_await pool.close(weft::now() + 20ms), 1u);
    EXPECT_THROW((void)co_await pool.acquire(), weft::PoolClosed);
    held.release();
    EXPECT_EQ(co_await pool.close(weft::now() + 5s), 0u);
  }());
}

TEST(PgPool, MinSizeConnectionsAreOpenedInTheBackground) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool(server().conninfo(), {.min_size = 2, .max_size = 4});
    for (int i = 0; i < 1000 && pool.idle() < 2; ++i) co_await weft::sleep(5ms);
    EXPECT_EQ(pool.idle(), 2u);
    co_await pool.close();
  }());
}

TEST(PgPool, AConnectErrorReachesTheAcquirer) {
  weft::run([]() -> weft::Task<void> {
    pg::Pool pool("host=127.0.0.1 port=" + std::to_string(server().port) +
                  " user=weft dbname=no_such_db");
    EXPECT_THROW((void)co_await pool.acquire(), pg::ConnectionError);
    EXPECT_EQ(pool.size(), 0u);
  }());
}

}  // namespace
