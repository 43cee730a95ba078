// LISTEN/NOTIFY between two connections to the test server: what is sent arrives with its
// payload and sender, in order and all of it, also when it came during a query; UNLISTEN,
// quoted channel names, transactions; a cancelled wait and a terminated backend.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

#include "pg_server.hpp"

using namespace std::chrono_literals;
namespace pg = weft::pg;
using weft_test::pg::server;

namespace {

using Notifications = weft::AsyncGenerator<pg::Notification>;

/// The next notification of `g`; fails the test if none comes within a bound that only a
/// lost notification reaches.
weft::Task<pg::Notification> next_of(Notifications& g) {
  auto next = g.next();
  std::optional<pg::Notification> n = co_await weft::wait_for(next, 30s);
  if (!n) throw std::runtime_error("the notifications ended");
  co_return std::move(*n);
}

/// Returns once backend `pid` waits for a lock, as `observer` sees in pg_locks.
weft::Task<void> until_waiting_for_lock(pg::Connection& observer, int pid) {
  for (int i = 0; i < 2000; ++i) {
    if (co_await observer.fetchval<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pid)) {
      co_return;
    }
    co_await weft::sleep(5ms);
  }
  ADD_FAILURE() << "backend " << pid << " never waited for the lock";
}

TEST(PgNotify, ANotificationFromAnotherConnectionArrivesWithItsPayloadAndSender) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    co_await listener.listen("jobs");
    Notifications notes = listener.notifications();
    co_await sender.notify("jobs", "job 1 is ready");
    co_await sender.execute("NOTIFY jobs");
    pg::Notification n = co_await next_of(notes);
    EXPECT_EQ(n.channel, "jobs");
    EXPECT_EQ(n.payload, "job 1 is ready");
    EXPECT_EQ(n.backend_pid, sender.backend_pid());
    pg::Notification bare = co_await next_of(notes);
    EXPECT_EQ(bare.channel, "jobs");
    EXPECT_EQ(bare.payload, "");
    // A session hears its own notifications too.
    co_await listener.notify("jobs", "from myself");
    pg::Notification own = co_await next_of(notes);
    EXPECT_EQ(own.payload, "from myself");
    EXPECT_EQ(own.backend_pid, listener.backend_pid());
  }());
}

TEST(PgNotify, TenThousandNotificationsInABurstAllArriveInOrder) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    co_await listener.listen("burst");
    Notifications notes = listener.notifications();
    constexpr int kCount = 10'000;
    // Long payloads, so that the burst is more than the socket and libpq's buffer hold.
    co_await sender.execute(
        "SELECT pg_notify('burst', i::text || ':' || repeat('x', 100)) "
        "FROM generate_series(1, $1) AS i",
        kCount);
    const std::string tail = ":" + std::string(100, 'x');
    int in_order = 0;
    for (int i = 1; i <= kCount; ++i) {
      pg::Notification n = co_await next_of(notes);
      if (n.payload == std::to_string(i) + tail) ++in_order;
    }
    EXPECT_EQ(in_order, kCount);
    // None left over: the next one is the next sent.
    co_await sender.notify("burst", "after");
    EXPECT_EQ((co_await next_of(notes)).payload, "after");
  }());
}

TEST(PgNotify, NotificationsSentDuringAQueryAreYieldedAfterIt) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    co_await listener.listen("during");
    Notifications notes = listener.notifications();
    // The listener's query waits for a lock the sender holds until it has notified.
    co_await sender.execute("SELECT pg_advisory_lock($1)", std::int64_t{7});
    auto query = weft::spawn(listener.execute("SELECT pg_advisory_lock($1)", std::int64_t{7}));
    co_await until_waiting_for_lock(sender, listener.backend_pid());
    for (int i = 1; i <= 3; ++i) co_await sender.notify("during", std::to_string(i));
    co_await sender.execute("SELECT pg_advisory_unlock($1)", std::int64_t{7});
    (void)co_await query;
    co_await listener.execute("SELECT pg_advisory_unlock($1)", std::int64_t{7});
    EXPECT_EQ((co_await next_of(notes)).payload, "1");
    // The generator does not hold the connection at a yield: a query between two
    // notifications runs.
    EXPECT_EQ(co_await listener.fetchval<std::int32_t>("SELECT $1 + 1", 1), 2);
    EXPECT_EQ((co_await next_of(notes)).payload, "2");
    EXPECT_EQ((co_await next_of(notes)).payload, "3");
  }());
}

TEST(PgNotify, UnlistenStopsTheNotificationsOfThatChannel) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    co_await listener.listen("a");
    co_await listener.listen("b");
    co_await listener.unlisten("a");
    Notifications notes = listener.notifications();
    // Notifications are delivered in the order they were sent: had "a" still been heard,
    // it would come first.
    co_await sender.notify("a", "not heard");
    co_await sender.notify("b", "heard");
    pg::Notification n = co_await next_of(notes);
    EXPECT_EQ(n.channel, "b");
    EXPECT_EQ(n.payload, "heard");
    co_await listener.unlisten_all();
    co_await sender.notify("b", "not heard either");
    co_await listener.listen("c");
    co_await sender.notify("c", "marker");
    n = co_await next_of(notes);
    EXPECT_EQ(n.channel, "c");
    EXPECT_EQ(n.payload, "marker");
  }());
}

TEST(PgNotify, AChannelNameThatNeedsQuotingIsListenedToExactly) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    const std::string name = "Job \"Queue\" 1; DROP TABLE x";
    co_await listener.listen(name);
    Notifications notes = listener.notifications();
    co_await sender.notify("job \"queue\" 1; drop table x", "other case: not heard");
    co_await sender.notify(name, "exact");
    pg::Notification n = co_await next_of(notes);
    EXPECT_EQ(n.channel, name);
    EXPECT_EQ(n.payload, "exact");
    // The longest name PostgreSQL keeps whole.
    const std::string longest(63, 'L');
    co_await listener.listen(longest);
    co_await sender.notify(longest, "63 bytes");
    n = co_await next_of(notes);
    EXPECT_EQ(n.channel, longest);
  }());
}

TEST(PgNotify, ChannelNamesPostgresCannotTakeAreRefusedBeforeAnythingIsSent) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    EXPECT_THROW(co_await c.listen(""), std::invalid_argument);
    EXPECT_THROW(co_await c.listen(std::string("a\0b", 3)), std::invalid_argument);
    try {
      co_await c.listen(std::string(64, 'x'));
      ADD_FAILURE() << "no error";
    } catch (const std::length_error& e) {
      EXPECT_NE(std::string(e.what()).find("64 bytes"), std::string::npos) << e.what();
    }
    EXPECT_THROW(co_await c.notify(std::string(64, 'x'), "p"), std::length_error);
    try {
      co_await c.notify("big", std::string(8000, 'p'));
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "22023") << e.what();
      EXPECT_NE(std::string(e.what()).find("payload"), std::string::npos) << e.what();
    }
    EXPECT_EQ(co_await c.fetchval<std::int32_t>("SELECT 1"), 1);
  }());
}

TEST(PgNotify, ACancelledWaitLeavesTheConnectionUsableAndLaterNotificationsArrive) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection sender = co_await pg::connect(server().conninfo());
    co_await listener.listen("later");
    Notifications notes = listener.notifications();
    auto next = notes.next();
    EXPECT_THROW((void)co_await weft::wait_for(next, 20ms), weft::TimeoutError);
    // The timeout ended that generator; the connection runs queries and a new one goes on.
    EXPECT_FALSE(co_await notes.next());
    EXPECT_EQ(co_await listener.fetchval<std::int32_t>("SELECT $1 * 2", 21), 42);
    co_await sender.notify("later", "one");
    Notifications again = listener.notifications();
    EXPECT_EQ((co_await next_of(again)).payload, "one");

    // A spawned waiter cancelled.
    auto waiter = weft::spawn([](pg::Connection& c) -> weft::Task<std::optional<pg::Notification>> {
      Notifications g = c.notifications();
      co_return co_await g.next();
    }(listener));
    waiter.cancel();
    EXPECT_THROW((void)co_await waiter, weft::CancelledError);
    co_await sender.notify("later", "two");
    EXPECT_EQ((co_await next_of(again)).payload, "two");
    EXPECT_EQ(listener.transaction_status(), pg::TransactionStatus::kIdle);
  }());
}

TEST(PgNotify, ABackendTerminatedWhileWaitingEndsTheGeneratorWithConnectionLost) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection killer = co_await pg::connect(server().conninfo());
    co_await listener.listen("doomed");
    Notifications notes = listener.notifications();
    co_await killer.notify("doomed", "before");
    EXPECT_EQ((co_await next_of(notes)).payload, "before");
    const int pid = listener.backend_pid();
    // Terminated from another task while this one waits (or is about to: either way the
    // wait must end with the loss, not hang).
    auto kill = weft::spawn([](pg::Connection& k, int pid) -> weft::Task<bool> {
      co_return co_await k.fetchval<bool>("SELECT pg_terminate_backend($1)", pid);
    }(killer, pid));
    try {
      (void)co_await next_of(notes);
      ADD_FAILURE() << "no error";
    } catch (const pg::ConnectionLost& e) {
      EXPECT_EQ(e.sqlstate(), "57P01") << e.what();
      EXPECT_NE(std::string(e.what()).find("connection lost"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(co_await kill);
    EXPECT_FALSE(listener.is_open());
    EXPECT_FALSE(co_await notes.next());
    EXPECT_THROW((void)co_await listener.fetch("SELECT 1"), pg::ConnectionLost);
    Notifications after = listener.notifications();
    EXPECT_THROW((void)co_await after.next(), pg::ConnectionLost);
  }());
}

TEST(PgNotify, ANotifyInATransactionIsDeliveredAtCommitOnly) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection listener = co_await pg::connect(server().conninfo());
    pg::Connection in_tx = co_await pg::connect(server().conninfo());
    pg::Connection other = co_await pg::connect(server().conninfo());
    co_await listener.listen("tx");
    Notifications notes = listener.notifications();
    // Delivered in commit order: "outside", sent later but committed first, comes first.
    co_await in_tx.execute("BEGIN");
    co_await in_tx.notify("tx", "committed");
    co_await other.notify("tx", "outside");
    co_await in_tx.execute("COMMIT");
    EXPECT_EQ((co_await next_of(notes)).payload, "outside");
    EXPECT_EQ((co_await next_of(notes)).payload, "committed");
    // A rolled back one never comes.
    bool rolled_back = false;
    try {
      co_await in_tx.transaction([&](pg::Transaction&) -> weft::Task<void> {
        co_await in_tx.notify("tx", "rolled back");
        throw std::logic_error("roll back");
      });
    } catch (const std::logic_error&) {
      rolled_back = true;
    }
    EXPECT_TRUE(rolled_back);
    co_await other.notify("tx", "after the rollback");
    EXPECT_EQ((co_await next_of(notes)).payload, "after the rollback");
  }());
}

TEST(PgNotify, NotificationsOnAClosedConnectionAreAUsageError) {
  weft::run([]() -> weft::Task<void> {
    pg::Connection c = co_await pg::connect(server().conninfo());
    c.close();
    Notifications notes = c.notifications();
    EXPECT_THROW((void)co_await notes.next(), weft::UsageError);
    pg::Connection none;
    EXPECT_THROW(co_await none.listen("x"), weft::UsageError);
  }());
}

}  // namespace
