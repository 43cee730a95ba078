// The server restarted, or a backend terminated, in the middle of a query: the query fails
// with a clean pg::ConnectionLost (never a hang), a pg::Pool replaces the connections that
// broke and serves the next acquirers, and no transaction is reported committed that was
// not, nor the other way round. pg_pool_test covers a backend terminated between queries.
// A report the server sends while a session starts (a backend terminated then, a bad
// setting of the role) goes to the notice hook, never to libpq's default of stderr. A
// socket libpq closed on a lost connection is forgotten, not deregistered by number.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg/conn_state.hpp"
#include "pg_server.hpp"
#include "pg_test_util.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;
using weft_test::pg::until_running;

namespace {

// The bound on anything that could hang: a hang fails the test with TimeoutError.
constexpr auto kBound = 30s;

/// Runs `sql` on `conn`; the pg::ConnectionLost it must raise (failing the test otherwise).
weft::Task<std::optional<pg::ConnectionLost>> lost_by(pg::Connection& conn, std::string sql) {
  try {
    (void)co_await conn.fetch(sql);
  } catch (const pg::ConnectionLost& e) {
    co_return e;
  }
  ADD_FAILURE() << sql << " returned; expected ConnectionLost";
  co_return std::nullopt;
}

TEST(PgRobustness, AServerRestartMidQueryRaisesConnectionLost) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    pg::Connection observer = co_await pg::connect(server().conninfo());
    auto query = weft::spawn(lost_by(c, "SELECT pg_sleep(60)"));
    co_await until_running(observer, c.backend_pid());
    co_await weft::to_thread([] { weft_test::pg::restart_server(); });
    std::optional<pg::ConnectionLost> e = co_await weft::wait_for(std::move(query), kBound);
    if (e) {
      // The server says why: admin_shutdown.
      EXPECT_EQ(e->sqlstate(), "57P01") << e->what();
      EXPECT_NE(std::string(e->what()).find("terminating connection"), std::string::npos)
          << e->what();
      EXPECT_EQ(e->query(), "SELECT pg_sleep(60)");
    }
    EXPECT_FALSE(c.is_open());
    EXPECT_EQ(c.transaction_status(), pg::TransactionStatus::kUnknown);
    // Every later call on it says the connection is lost, at once.
    EXPECT_THROW((void)co_await c.fetch("SELECT 1"), pg::ConnectionLost);
    // The restarted server takes new connections.
    pg::Connection again = co_await pg::connect(server().conninfo());
    EXPECT_EQ(co_await again.fetchval<std::int32_t>("SELECT $1", 7), 7);
  }());
}

TEST(PgRobustness, APoolRecoversAfterAServerRestart) {
  weft::run([]() -> weft::Task<void> {
    pg::PoolOptions options;
    options.max_size = 3;
    options.acquire_timeout = kBound;
    pg::Pool pool(server().conninfo(), std::move(options));
    pg::Connection observer = co_await pg::connect(server().conninfo());
    std::set<int> before;
    {
      // Three connections, one of them busy when the server goes down, two idle in the pool.
      auto a = co_await pool.acquire();
      auto b = co_await pool.acquire();
      auto busy = co_await pool.acquire();
      for (auto* l : {&a, &b, &busy}) before.insert((*l)->backend_pid());
      EXPECT_EQ(before.size(), 3u);
      a.release();
      b.release();
      auto query = weft::spawn(lost_by(*busy, "SELECT pg_sleep(60)"));
      co_await until_running(observer, busy->backend_pid());
      co_await weft::to_thread([] { weft_test::pg::restart_server(); });
      EXPECT_TRUE((co_await weft::wait_for(std::move(query), kBound)).has_value());
    }  // the lost one is destroyed, not returned
    EXPECT_EQ(pool.size(), 2u);

    // More acquirers than connections, at once: each gets a working connection, none of the
    // old ones, and the pool stays within max_size.
    std::vector<weft::Task<int>> tasks;
    for (int i = 0; i < 12; ++i) {
      tasks.push_back([](pg::Pool& pool, int i) -> weft::Task<int> {
        auto conn = co_await pool.acquire();
        EXPECT_EQ(co_await conn->fetchval<std::int32_t>("SELECT $1 FROM pg_sleep(0.01)", i), i);
        co_return conn->backend_pid();
      }(pool, i));
    }
    std::vector<int> pids = co_await weft::wait_for(weft::gather(std::move(tasks)), kBound);
    for (int pid : pids) EXPECT_EQ(before.count(pid), 0u) << "an old connection was lent";
    EXPECT_LE(pool.size(), 3u);
    EXPECT_EQ(co_await weft::wait_for(pool.close(weft::now() + kBound), kBound), 0u);
  }());
}

TEST(PgRobustness, ABackendTerminatedMidQueryOnAPooledConnectionIsReplaced) {
  weft::run([]() -> weft::Task<void> {
    pg::PoolOptions options;
    options.max_size = 1;
    options.acquire_timeout = kBound;
    pg::Pool pool(server().conninfo(), std::move(options));
    pg::Connection killer = co_await pg::connect(server().conninfo());
    int pid = 0;
    {
      auto conn = co_await pool.acquire();
      pid = conn->backend_pid();
      auto query = weft::spawn(lost_by(*conn, "SELECT pg_sleep(60)"));
      co_await until_running(killer, pid);
      EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)", pid));
      std::optional<pg::ConnectionLost> e = co_await weft::wait_for(std::move(query), kBound);
      if (e) {
        EXPECT_EQ(e->sqlstate(), "57P01") << e->what();
      }
    }
    EXPECT_EQ(pool.size(), 0u);
    auto conn = co_await pool.acquire();
    EXPECT_NE(conn->backend_pid(), pid);
    EXPECT_EQ(co_await conn->fetchval<std::string>("SELECT 'replaced'"), "replaced");
  }());
}

TEST(PgRobustness, ANoticeDuringTheSessionStartupGoesToTheHook) {
  // A setting of the role that fails at login is a WARNING (the login goes on), sent before
  // the startup ends.
  weft_test::pg::run_sql(
      "SET client_min_messages = warning; CREATE ROLE weft_warned LOGIN; "
      "ALTER ROLE weft_warned SET default_text_search_config = 'pg_catalog.no_such_config'");
  weft::run([]() -> weft::Task<void> {
    std::vector<pg::Notice> notices;
    pg::ConnectOptions options;
    options.on_notice = [&](const pg::Notice& n) { notices.push_back(n); };
    pg::Connection c = co_await pg::connect("host=127.0.0.1 port=" + std::to_string(server().port) +
                                                " user=weft_warned dbname=postgres",
                                            options);
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
    bool warned = false;
    for (const pg::Notice& n : notices) {
      warned = warned || (n.severity == "WARNING" &&
                          n.message.find("default_text_search_config") != std::string::npos);
    }
    EXPECT_TRUE(warned) << notices.size() << " notices, none the startup's WARNING";
  }());
}

/// Runs `tasks` at once, failing with TimeoutError if they take longer than kBound.
weft::Task<void> all_within_bound(std::vector<weft::Task<void>> tasks) {
  (void)co_await weft::wait_for(weft::gather(std::move(tasks)), kBound);
}

/// How one inserting task of NothingIsLost ended.
enum class Outcome {
  kCommitted,     ///< transaction() returned: the row must be in the table
  kFailedBefore,  ///< a pg::Error before the commit was sent: the row must not be there
  kFailedCommit,  ///< a pg::Error from the commit itself: the server may or may not have it
  kOther,         ///< anything else: a test failure
};

TEST(PgRobustness, BackendsTerminatedDuringTransactionsLoseNothingCommitted) {
  // Tasks insert one row each in a transaction on a pool while another connection
  // terminates the pool's backends over and over. Every third task's transaction sleeps a
  // minute, so it can only end by being terminated; the others are short and may be hit
  // or not. A commit that failed is the one ambiguous case (the server may have committed
  // before the connection dropped), so it is told apart.
  weft::run([]() -> weft::Task<void> {
    pg::Connection killer = co_await pg::connect(server().conninfo());
    co_await killer.execute(
        "DROP TABLE IF EXISTS nothing_lost; CREATE TABLE nothing_lost (id int4 PRIMARY KEY)");
    pg::PoolOptions options;
    options.max_size = 4;
    options.acquire_timeout = kBound;
    pg::Pool pool(server().conninfo() + " application_name=weft_victim", std::move(options));

    constexpr int kTasks = 30;
    std::vector<Outcome> outcomes(kTasks, Outcome::kOther);
    std::vector<std::string> errors(kTasks);
    std::vector<weft::Task<void>> tasks;
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(
          [](pg::Pool& pool, int i, Outcome& outcome, std::string& error) -> weft::Task<void> {
            bool body_done = false;
            const std::string sleep = i % 3 == 0 ? "SELECT pg_sleep(60)" : "SELECT pg_sleep(0.01)";
            auto body = [&](pg::Transaction& tx) -> weft::Task<void> {
              co_await tx.connection().execute("INSERT INTO nothing_lost VALUES ($1)", i);
              co_await tx.connection().execute(sleep);
              body_done = true;
            };
            const pg::TransactionOptions plain;
            try {
              auto conn = co_await pool.acquire();
              co_await conn->transaction(body, plain);
              outcome = Outcome::kCommitted;
            } catch (const pg::Error& e) {
              outcome = body_done ? Outcome::kFailedCommit : Outcome::kFailedBefore;
              error = e.what();
            } catch (const std::exception& e) {
              error = e.what();
            }
          }(pool, i, outcomes[i], errors[i]));
    }
    auto work = weft::spawn(all_within_bound(std::move(tasks)));
    // The tasks write to outcomes and errors until they end: they must end before this
    // frame does, whatever fails here.
    int terminated = 0;
    std::exception_ptr killer_error;
    try {
      while (!work.done()) {
        terminated += static_cast<int>(co_await killer.fetchval<std::int64_t>(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'weft_victim' AND pid <> pg_backend_pid()"));
        co_await weft::sleep(2ms);
      }
    } catch (...) {
      killer_error = std::current_exception();
    }
    if (killer_error) work.cancel();
    try {
      co_await work;
    } catch (...) {
      if (!killer_error) killer_error = std::current_exception();
    }
    if (killer_error) std::rethrow_exception(killer_error);
    EXPECT_GE(terminated, kTasks / 3);

    std::set<int> rows;
    for (pg::Row r : co_await killer.fetch("SELECT id FROM nothing_lost")) {
      rows.insert(r.get<std::int32_t>(0));
    }
    for (int i = 0; i < kTasks; ++i) {
      switch (outcomes[i]) {
        case Outcome::kCommitted:
          EXPECT_EQ(rows.count(i), 1u) << "task " << i << " committed, its row is missing";
          EXPECT_NE(i % 3, 0) << "task " << i << " slept a minute and committed";
          break;
        case Outcome::kFailedBefore:
          EXPECT_EQ(rows.count(i), 0u)
              << "task " << i << " failed (" << errors[i] << "), its row is there";
          break;
        case Outcome::kFailedCommit:
          break;  // either way
        case Outcome::kOther:
          ADD_FAILURE() << "task " << i << ": " << errors[i];
          break;
      }
    }

    // The pool serves again once nothing terminates its backends.
    EXPECT_LE(pool.size(), 4u);
    auto conn = co_await pool.acquire();
    EXPECT_EQ(co_await conn->fetchval<std::int32_t>("SELECT $1", 5), 5);
  }());
}

TEST(PgRobustness, ASocketLibpqClosedIsNotDeregisteredByItsNumber) {
  // libpq closes its socket when it finds the server gone; the number is then free for
  // any fd another thread opens, and a DEL by number on closing the connection would take
  // that fd out of the worker's epoll, so its waits would never end. Here the number is
  // taken by a socket on the same worker's epoll at once, the worst case.
  weft::pg::detail::ConnState s;
  s.conn = PQconnectdb(server().conninfo().c_str());
  ASSERT_EQ(PQstatus(s.conn), CONNECTION_OK) << PQerrorMessage(s.conn);
  ASSERT_EQ(PQsetnonblocking(s.conn, 1), 0);
  const int old_fd = PQsocket(s.conn);
  weft::RuntimeOptions one_worker;
  one_worker.workers = 1;
  weft::run(
      [](weft::pg::detail::ConnState& s, int old_fd) -> weft::Task<void> {
        s.reg = weft::IoRegistration(old_fd);
        s.reg.register_here();
        {
          pg::Connection killer = co_await pg::connect(server().conninfo());
          EXPECT_TRUE(co_await killer.fetchval<bool>("SELECT pg_terminate_backend($1)",
                                                     PQbackendPID(s.conn)));
        }
        // Reads the backend's FATAL, then the end of the stream, where libpq closes.
        for (int i = 0; i < 100 && PQsocket(s.conn) >= 0; ++i) {
          const std::uint32_t seq = s.reg.ready_seq(weft::Interest::kRead);
          if (!PQconsumeInput(s.conn)) break;
          // libpq stops at the data it read: the end of the stream may have come with it.
          pollfd p{PQsocket(s.conn), POLLIN, 0};
          if (::poll(&p, 1, 0) > 0) continue;
          co_await weft::wait_for(s.reg.wait(weft::Interest::kRead, seq), kBound);
        }
        EXPECT_EQ(PQsocket(s.conn), -1) << "libpq kept its socket";

        int pair[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
        if (pair[0] != old_fd) {  // the lowest free number is usually the one libpq freed
          EXPECT_EQ(::dup3(pair[0], old_fd, O_CLOEXEC), old_fd);
          ::close(pair[0]);
        }
        {
          weft::IoRegistration other(old_fd);
          other.register_here();
          s.close();
          const std::uint32_t seq = other.ready_seq(weft::Interest::kRead);
          EXPECT_EQ(::write(pair[1], "x", 1), 1);
          bool woken = false;
          try {
            co_await weft::wait_for(other.wait(weft::Interest::kRead, seq), 5s);
            woken = true;
          } catch (const weft::TimeoutError&) {
          }
          EXPECT_TRUE(woken) << "closing the lost connection deregistered fd " << old_fd
                             << ", which was no longer its";
        }
        ::close(old_fd);
        ::close(pair[1]);
      }(s, old_fd),
      one_worker);
}

}  // namespace
