// Opt-in wait counters of the sync primitives (wait_stats.hpp): a Semaphore, a Mutex, a
// Queue's two sides and a Pool count the waits that happen, and only those: how many began,
// how many wait now and at most, how many were cancelled, and for how long. Snapshots are
// read from a plain thread while tasks wait (TSan: the counters are written under the
// primitive's lock and read relaxed).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

/// Waits (bounded) until `ready()` holds, yielding the worker meanwhile.
template <class Ready>
weft::Task<void> until(Ready ready) {
  for (int i = 0; i < 1'000'000 && !ready(); ++i) co_await weft::yield_now();
}

}  // namespace

TEST(WaitStats, AnUntrackedPrimitiveReportsNothing) {
  weft::Semaphore s(1);
  EXPECT_FALSE(s.wait_stats().tracked);
  EXPECT_EQ(s.wait_stats().waits, 0u);
}

TEST(WaitStats, ASemaphoreCountsItsWaitersNowAtMostAndForHowLong) {
  weft::Semaphore s(1);
  s.track_waits();
  std::atomic<bool> stop{false};
  std::thread reader([&] {  // snapshots while tasks wait
    while (!stop.load()) (void)s.wait_stats();
  });
  weft::run(
      [](weft::Semaphore& s) -> weft::Task<void> {
        std::vector<weft::JoinHandle<void>> waiters;
        {
          weft::SemaphoreGuard held = co_await s.acquire();  // free: not a wait
          for (int i = 0; i < 5; ++i) {
            waiters.push_back(weft::spawn([](weft::Semaphore& s) -> weft::Task<void> {
              weft::SemaphoreGuard g = co_await s.acquire();
              co_await weft::sleep(1ms);
            }(s)));
          }
          co_await until([&] { return s.wait_stats().waiting == 5; });
          const weft::WaitStats w = s.wait_stats();
          EXPECT_EQ(w.waits, 5u);
          EXPECT_EQ(w.max_waiting, 5u);
          EXPECT_EQ(w.ended, 0u);
          co_await weft::sleep(2ms);  // the first waiter's wait lasts at least this
        }
        for (auto& h : waiters) co_await h;
      }(s),
      {.workers = 2});
  stop = true;
  reader.join();
  const weft::WaitStats w = s.wait_stats();
  EXPECT_TRUE(w.tracked);
  EXPECT_EQ(w.waits, 5u);
  EXPECT_EQ(w.ended, 5u);
  EXPECT_EQ(w.cancelled, 0u);
  EXPECT_EQ(w.waiting, 0u);
  EXPECT_EQ(w.max_waiting, 5u);
  EXPECT_GE(w.max_wait, 2ms);
  EXPECT_GE(w.wait_time, w.max_wait);
  EXPECT_GT(w.mean_wait(), 0ns);
}

TEST(WaitStats, AMutexCountsOnlyTheLocksThatWaited) {
  weft::Mutex m;
  m.track_waits();
  weft::run(
      [](weft::Mutex& m) -> weft::Task<void> {
        for (int i = 0; i < 10; ++i) weft::MutexGuard g = co_await m.lock();  // free
        EXPECT_EQ(m.wait_stats().waits, 0u);
        weft::JoinHandle<void> waiter;
        {
          weft::MutexGuard g = co_await m.lock();
          waiter = weft::spawn([](weft::Mutex& m) -> weft::Task<void> {
            weft::MutexGuard g = co_await m.lock();
          }(m));
          co_await until([&] { return m.wait_stats().waiting == 1; });
        }
        co_await waiter;
      }(m),
      {.workers = 1});
  const weft::WaitStats w = m.wait_stats();
  EXPECT_GE(w.waits, 1u);
  EXPECT_EQ(w.ended, w.waits);
  EXPECT_EQ(w.waiting, 0u);
}

TEST(WaitStats, AQueueCountsGettersAndPuttersApartAndATimedOutGetAsCancelled) {
  weft::Queue<int> q(1);
  q.track_waits();
  weft::run(
      [](weft::Queue<int>& q) -> weft::Task<void> {
        // Two getters wait for items; one gives up after 1 ms.
        weft::JoinHandle<int> getter = weft::spawn(
            [](weft::Queue<int>& q) -> weft::Task<int> { co_return co_await q.get(); }(q));
        bool timed_out = false;
        try {
          (void)co_await weft::wait_for(q.get(), 1ms);
        } catch (const weft::TimeoutError&) {
          timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        co_await q.put(1);  // to the waiting getter
        EXPECT_EQ(co_await getter, 1);
        // The queue (bound 1) full: a putter waits for room.
        co_await q.put(2);
        weft::JoinHandle<void> putter =
            weft::spawn([](weft::Queue<int>& q) -> weft::Task<void> { co_await q.put(3); }(q));
        co_await until([&] { return q.put_wait_stats().waiting == 1; });
        EXPECT_EQ(co_await q.get(), 2);
        co_await putter;
        EXPECT_EQ(co_await q.get(), 3);
      }(q),
      {.workers = 1});
  const weft::WaitStats g = q.get_wait_stats();
  EXPECT_EQ(g.waits, 2u);
  EXPECT_EQ(g.cancelled, 1u);
  EXPECT_EQ(g.ended, 2u);
  EXPECT_GE(g.max_wait, 1ms);
  const weft::WaitStats p = q.put_wait_stats();
  EXPECT_EQ(p.waits, 1u);
  EXPECT_EQ(p.ended, 1u);
  EXPECT_EQ(p.cancelled, 0u);
}

TEST(WaitStats, APoolCountsTheAcquiresThatWaitedForAnObject) {
  weft::run(
      []() -> weft::Task<void> {
        weft::PoolHooks<int> hooks;
        hooks.create = []() -> weft::Task<int> { co_return 7; };
        weft::PoolOptions options;
        options.max_size = 1;
        weft::Pool<int> pool(std::move(hooks), options);
        pool.track_waits();
        weft::JoinHandle<void> waiter;
        {
          auto lease = co_await pool.acquire();
          waiter = weft::spawn(
              [](weft::Pool<int>& p) -> weft::Task<void> { auto l = co_await p.acquire(); }(pool));
          co_await until([&] { return pool.wait_stats().waiting == 1; });
        }
        co_await waiter;
        const weft::WaitStats w = pool.wait_stats();
        EXPECT_EQ(w.waits, 1u);
        EXPECT_EQ(w.ended, 1u);
        co_await pool.close();
      }(),
      {.workers = 1});
}

// ---- Exposed by name (weft/sync/expose.hpp) ------------------------------------------------

namespace {

/// The exposed source `name` (`kind`) in `waits`; nullptr if there is none.
const weft::metrics::NamedWaitStats* exposed(const std::vector<weft::metrics::NamedWaitStats>& w,
                                             const std::string& name, const std::string& kind) {
  for (const auto& n : w) {
    if (n.name == name && n.kind == kind) return &n;
  }
  return nullptr;
}

}  // namespace

TEST(ExposedWaits, ASemaphoreShowsOnTheRuntimesMetricsAndPageUntilItsExposureGoes) {
  weft::Semaphore s(1);
  weft::metrics::Exposure exposure = weft::metrics::expose("db slots", s);
  EXPECT_TRUE(s.wait_stats().tracked) << "exposing tracks its waits";
  weft::Runtime rt({.workers = 2});
  rt.block_on([](weft::Semaphore& s) -> weft::Task<void> {
    weft::JoinHandle<void> waiter;
    {
      weft::SemaphoreGuard held = co_await s.acquire();
      waiter = weft::spawn([](weft::Semaphore& s) -> weft::Task<void> {
        weft::SemaphoreGuard g = co_await s.acquire();
      }(s));
      co_await until([&] { return s.wait_stats().waiting == 1; });
      const weft::RuntimeMetrics m = weft::current_runtime().metrics();
      const auto* db = exposed(m.waits, "db slots", "semaphore");
      EXPECT_NE(db, nullptr);
      if (db) {
        EXPECT_EQ(db->stats.waiting, 1u);
      }
    }
    co_await waiter;
  }(s));
  const weft::RuntimeMetrics m = rt.metrics();
  const auto* db = exposed(m.waits, "db slots", "semaphore");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->stats.waits, 1u);
  EXPECT_EQ(db->stats.ended, 1u);
  EXPECT_NE(weft::metrics::prometheus_text(rt.metrics())
                .find("weft_sync_waits_total{name=\"db slots\",kind=\"semaphore\"} 1\n"),
            std::string::npos);
  exposure.reset();
  EXPECT_FALSE(exposure);
  EXPECT_EQ(exposed(rt.metrics().waits, "db slots", "semaphore"), nullptr);
  EXPECT_EQ(weft::metrics::prometheus_text(rt.metrics()).find("db slots"), std::string::npos);
}

TEST(ExposedWaits, AQueueShowsBothSidesAndAMutexAndAPoolTheirKinds) {
  weft::Queue<int> q(1);
  weft::Mutex mu;
  weft::PoolHooks<int> hooks;
  hooks.create = []() -> weft::Task<int> { co_return 1; };
  weft::Pool<int> pool(std::move(hooks), weft::PoolOptions{});
  weft::metrics::Exposure a = weft::metrics::expose("jobs", q);
  weft::metrics::Exposure b = weft::metrics::expose("state", mu);
  weft::metrics::Exposure c = weft::metrics::expose("conns", pool);
  const auto w = weft::metrics::exposed_waits();
  EXPECT_NE(exposed(w, "jobs", "queue get"), nullptr);
  EXPECT_NE(exposed(w, "jobs", "queue put"), nullptr);
  EXPECT_NE(exposed(w, "state", "mutex"), nullptr);
  EXPECT_NE(exposed(w, "conns", "pool"), nullptr);
  weft::run([](weft::Pool<int>& p) -> weft::Task<void> { co_await p.close(); }(pool),
            {.workers = 1});
}

TEST(ExposedWaits, ANameExposedTwiceAnEmptyNameOrSourceIsRejected) {
  weft::Semaphore s(1), t(1);
  weft::metrics::Exposure first = weft::metrics::expose("db", s);
  EXPECT_THROW((void)weft::metrics::expose("db", t), std::invalid_argument);
  EXPECT_THROW((void)weft::metrics::expose("", t), std::invalid_argument);
  EXPECT_THROW((void)weft::metrics::expose_waits("x", {}), std::invalid_argument);
  std::vector<weft::metrics::WaitSource> no_read;
  no_read.push_back({"semaphore", {}});
  EXPECT_THROW((void)weft::metrics::expose_waits("x", std::move(no_read)), std::invalid_argument);
  weft::metrics::Exposure moved = std::move(first);
  EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move): a moved-from Exposure is empty
  moved.reset();
  weft::metrics::Exposure again = weft::metrics::expose("db", t);  // the name is free again
  EXPECT_TRUE(again);
}

TEST(ExposedWaits, SnapshotsWhileExposuresComeAndGoOnOtherThreads) {
  weft::Semaphore s(1);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) (void)weft::metrics::exposed_waits();
  });
  for (int i = 0; i < 2'000; ++i) {
    weft::metrics::Exposure e = weft::metrics::expose("churn", s);
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(exposed(weft::metrics::exposed_waits(), "churn", "semaphore"), nullptr);
}

TEST(WaitStats, AnEventAndAConditionCountTheirWaitersUntilTheyAreWoken) {
  weft::Event e;
  weft::Condition c;
  e.track_waits();
  c.track_waits();
  weft::run(
      [](weft::Event& e, weft::Condition& c) -> weft::Task<void> {
        std::vector<weft::JoinHandle<void>> waiters;
        for (int i = 0; i < 3; ++i) {
          waiters.push_back(
              weft::spawn([](weft::Event& e) -> weft::Task<void> { co_await e.wait(); }(e)));
        }
        waiters.push_back(weft::spawn([](weft::Condition& c) -> weft::Task<void> {
          weft::MutexGuard g = co_await c.lock();
          co_await c.wait(g);
        }(c)));
        co_await until([&] { return e.wait_stats().waiting == 3 && c.wait_stats().waiting == 1; });
        e.set();
        {
          weft::MutexGuard g = co_await c.lock();
          c.notify();
        }
        for (auto& h : waiters) co_await h;
        co_await e.wait();  // set: not a wait
      }(e, c),
      {.workers = 2});
  EXPECT_EQ(e.wait_stats().waits, 3u);
  EXPECT_EQ(e.wait_stats().ended, 3u);
  EXPECT_EQ(e.wait_stats().max_waiting, 3u);
  EXPECT_EQ(c.wait_stats().waits, 1u);
  EXPECT_EQ(c.wait_stats().ended, 1u);
}

TEST(WaitStats, LifoAndPriorityQueuesCountBothSides) {
  weft::LifoQueue<int> lifo(1);
  weft::PriorityQueue<int> prio(1);
  lifo.track_waits();
  prio.track_waits();
  weft::run(
      [](weft::LifoQueue<int>& lifo, weft::PriorityQueue<int>& prio) -> weft::Task<void> {
        auto getter = weft::spawn(
            [](weft::LifoQueue<int>& q) -> weft::Task<int> { co_return co_await q.get(); }(lifo));
        co_await until([&] { return lifo.get_wait_stats().waiting == 1; });
        co_await lifo.put(1);
        EXPECT_EQ(co_await getter, 1);
        co_await prio.put(1);
        auto putter = weft::spawn(
            [](weft::PriorityQueue<int>& q) -> weft::Task<void> { co_await q.put(2); }(prio));
        co_await until([&] { return prio.put_wait_stats().waiting == 1; });
        EXPECT_EQ(co_await prio.get(), 1);
        co_await putter;
      }(lifo, prio),
      {.workers = 2});
  EXPECT_EQ(lifo.get_wait_stats().waits, 1u);
  EXPECT_EQ(lifo.put_wait_stats().waits, 0u);
  EXPECT_EQ(prio.put_wait_stats().waits, 1u);
  EXPECT_EQ(prio.put_wait_stats().ended, 1u);
  EXPECT_EQ(prio.get_wait_stats().waits, 0u);
  weft::metrics::Exposure a = weft::metrics::expose("stack", lifo);
  weft::metrics::Exposure b = weft::metrics::expose("ready", prio);
  const auto w = weft::metrics::exposed_waits();
  EXPECT_NE(exposed(w, "stack", "queue get"), nullptr);
  EXPECT_NE(exposed(w, "ready", "queue put"), nullptr);
}
