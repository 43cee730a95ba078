// Opt-in wait counters of the sync primitives (wait_stats.hpp): a Semaphore, a Mutex, a
// Queue's two sides and a Pool count the waits that happen, and only those: how many began,
// how many wait now and at most, how many were cancelled, and for how long. Snapshots are
// read from a plain thread while tasks wait (TSan: the counters are written under the
// primitive's lock and read relaxed).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
