// weft::Mutex: guards, FIFO hand-off, cancellation and timeouts (which never leave the
// mutex held), misuse errors, and stress across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

TEST(Mutex, LockReturnsAGuardThatUnlocksWhenDestroyed) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        {
          auto g = co_await m.lock();
          EXPECT_TRUE(g.owns_lock());
          EXPECT_TRUE(m.locked());
          EXPECT_FALSE(m.try_lock());
        }
        EXPECT_FALSE(m.locked());
      }(),
      virtual_clock());
}

TEST(Mutex, TryLockSucceedsOnAFreeMutexAndUnlockFreesIt) {
  weft::Mutex m;
  EXPECT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  m.unlock();
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, UnlockOfAnUnlockedMutexThrowsUsageError) {
  weft::Mutex m;
  try {
    m.unlock();
    FAIL() << "no exception";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not locked"), std::string::npos);
  }
}

TEST(Mutex, GuardMovesOwnershipAndUnlocksEarlyOnRequest) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        auto g = co_await m.lock();
        weft::MutexGuard g2 = std::move(g);
        EXPECT_FALSE(g.owns_lock());
        EXPECT_TRUE(m.locked());
        g2.unlock();
        EXPECT_FALSE(m.locked());
        EXPECT_THROW(g2.unlock(), weft::UsageError);
        auto g3 = co_await m.lock();
        weft::Mutex* raw = g3.release();
        EXPECT_EQ(raw, &m);
        EXPECT_TRUE(m.locked());
        m.unlock();
        EXPECT_TRUE(m.try_lock());
        weft::MutexGuard adopted(m, std::adopt_lock);
        EXPECT_TRUE(adopted.owns_lock());
      }(),
      virtual_clock());
}

weft::Task<void> lock_and_record(weft::Mutex& m, int id, std::vector<int>& order,
                                 std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  auto g = co_await m.lock();
  order.push_back(id);
  co_await weft::yield_now();  // others keep waiting while we hold it
}

TEST(Mutex, WaitersAcquireInTheOrderTheyArrived) {
  std::vector<int> order = weft::run(
      []() -> weft::Task<std::vector<int>> {
        weft::Mutex m;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto g = co_await m.lock();
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 8; ++i) {
          hs.push_back(weft::spawn(lock_and_record(m, i, order, arrived)));
          co_await settle(arrived, i + 1);
        }
        g.unlock();
        for (auto& h : hs) co_await h;
        co_return order;
      }(),
      virtual_clock());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Mutex, UnlockWakesTheFirstWaiterButANewcomerMayTakeTheMutexFirst) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto g = co_await m.lock();
        auto h = weft::spawn(lock_and_record(m, 1, order, arrived));
        co_await settle(arrived, 1);
        g.unlock();
        EXPECT_FALSE(m.locked());    // woken, not handed: it takes the mutex when it runs
        EXPECT_TRUE(m.try_lock());   // a newcomer may take it before the woken waiter runs
        co_await weft::yield_now();  // the waiter runs, loses, and waits again
        EXPECT_TRUE(order.empty());
        m.unlock();
        co_await h;
        EXPECT_EQ(order, std::vector<int>{1});
        EXPECT_FALSE(m.locked());
      }(),
      virtual_clock());
}

TEST(Mutex, AWaiterThatWaitedOverAMillisecondAndLostIsHandedTheMutex) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto g = co_await m.lock();
        auto h = weft::spawn(lock_and_record(m, 1, order, arrived));
        co_await settle(arrived, 1);
        // The starvation threshold is real time (1 ms): hold the mutex past it.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        g.unlock();
        EXPECT_TRUE(m.try_lock());   // barges ahead of the woken waiter
        co_await weft::yield_now();  // the waiter loses again, now starving
        m.unlock();                  // hands the mutex over
        EXPECT_TRUE(m.locked());     // already the waiter's, though it has not run yet
        EXPECT_FALSE(m.try_lock());
        co_await h;
        EXPECT_EQ(order, std::vector<int>{1});
        EXPECT_FALSE(m.locked());
        EXPECT_TRUE(m.try_lock());  // the last waiter ended the hand-off mode
        m.unlock();
      }(),
      virtual_clock());
}

TEST(Mutex, CancelledWaiterRaisesCancelledErrorAndDoesNotTakeTheMutex) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto g = co_await m.lock();
        auto h = weft::spawn(lock_and_record(m, 1, order, arrived));
        co_await settle(arrived, 1);
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
        g.unlock();
        EXPECT_FALSE(m.locked());
        EXPECT_TRUE(order.empty());
      }(),
      virtual_clock());
}

TEST(Mutex, CancelledWaiterBetweenTwoOthersPassesTheMutexToTheNext) {
  std::vector<int> order = weft::run(
      []() -> weft::Task<std::vector<int>> {
        weft::Mutex m;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto g = co_await m.lock();
        auto a = weft::spawn(lock_and_record(m, 1, order, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(lock_and_record(m, 2, order, arrived));
        co_await settle(arrived, 2);
        auto c = weft::spawn(lock_and_record(m, 3, order, arrived));
        co_await settle(arrived, 3);
        b.cancel();
        g.unlock();
        co_await a;
        EXPECT_THROW(co_await b, weft::CancelledError);
        co_await c;
        EXPECT_FALSE(m.locked());
        co_return order;
      }(),
      virtual_clock());
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(Mutex, TimedOutLockRaisesTimeoutErrorAndLeavesTheMutexToItsHolder) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        auto g = co_await m.lock();
        EXPECT_THROW((void)co_await weft::test::lock_within(m, 1ms), weft::TimeoutError);
        EXPECT_TRUE(m.locked());
        g.unlock();
        EXPECT_FALSE(m.locked());
        auto g2 = co_await weft::test::lock_within(m, 1ms);  // free: no timeout
        EXPECT_TRUE(g2.owns_lock());
      }(),
      virtual_clock(2));
}

weft::Task<void> hold_for(weft::Mutex& m, std::chrono::milliseconds d) {
  auto g = co_await m.lock();
  co_await weft::sleep(d);
}

TEST(Mutex, LockWithATimeoutLongerThanTheHoldSucceeds) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        auto holder = weft::spawn(hold_for(m, 5ms));
        co_await weft::sleep(1ms);
        auto g = co_await weft::test::lock_within(m, 1s);
        EXPECT_TRUE(g.owns_lock());
        co_await holder;
      }(),
      virtual_clock(2));
}

TEST(MutexDeathTest, DestroyingAMutexThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto m = std::make_unique<weft::Mutex>();
                     std::vector<int> order;
                     std::atomic<int> arrived{0};
                     auto g = co_await m->lock();
                     auto h = weft::spawn(lock_and_record(*m, 1, order, arrived));
                     co_await settle(arrived, 1);
                     g.release();
                     m.reset();
                   }(),
                   virtual_clock()),
               "weft::Mutex destroyed while 1 waiter");
}

// ---- stress ----

weft::Task<void> increment(weft::Mutex& m, long& counter, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto g = co_await m.lock();
    ++counter;  // a plain int: the mutex is the only thing keeping this right
    if (i % 64 == 0) co_await weft::yield_now();
  }
}

TEST(MutexStress, AHundredTasksIncrementingUnderTheLockCountEveryIncrement) {
  const std::size_t per_task = weft::test::scaled(1000, 10);
  long counter = weft::run(
      [](std::size_t n) -> weft::Task<long> {
        weft::Mutex m;
        long counter = 0;
        std::vector<weft::JoinHandle<void>> hs;
        for (int t = 0; t < 100; ++t) hs.push_back(weft::spawn(increment(m, counter, n)));
        for (auto& h : hs) co_await h;
        EXPECT_FALSE(m.locked());
        co_return counter;
      }(per_task),
      {.workers = 4});
  EXPECT_EQ(counter, static_cast<long>(100 * per_task));
}

struct Tally {
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<long> locked{0};
  std::atomic<long> timed_out{0};
  std::atomic<long> cancelled{0};
  long counter = 0;  // guarded by the mutex
};

weft::Task<void> lock_with_random_timeouts(weft::Mutex& m, Tally& t, std::size_t n, unsigned seed,
                                           std::atomic<int>& started) {
  started.fetch_add(1);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      auto g = co_await weft::test::lock_within(m, std::chrono::microseconds(rng() % 4000));
      int in = t.inside.fetch_add(1) + 1;
      int mx = t.max_inside.load();
      while (in > mx && !t.max_inside.compare_exchange_weak(mx, in)) {
      }
      ++t.counter;
      t.locked.fetch_add(1);
      t.inside.fetch_sub(1);
      if (rng() % 2 == 0) {
        try {  // hold it a while of virtual time: waiters pile up and time out meanwhile
          co_await weft::sleep(std::chrono::microseconds(rng() % 1500));
        } catch (const weft::CancelledError&) {
          // the lock was got: this iteration is counted as locked
        }
      }
    } catch (const weft::TimeoutError&) {
      t.timed_out.fetch_add(1);
    } catch (const weft::CancelledError&) {
      t.cancelled.fetch_add(1);
    }
  }
}

TEST(MutexStress, RandomlyTimedOutLockersNeverLeaveTheMutexHeld) {
  const std::size_t per_task = weft::test::scaled(200, 10);
  constexpr int kTasks = 40;
  Tally t;
  weft::run(
      [](Tally& t, std::size_t n) -> weft::Task<void> {
        weft::Mutex m;
        std::vector<weft::JoinHandle<void>> hs;
        std::atomic<int> started{0};
        for (int i = 0; i < kTasks; ++i) {
          hs.push_back(weft::spawn(lock_with_random_timeouts(m, t, n, 1234u + i, started)));
        }
        co_await settle(started, kTasks);  // a task cancelled before it starts would never run
        std::mt19937 rng(99);
        for (int round = 0; round < 200; ++round) {  // explicit cancels too; tasks carry on
          hs[rng() % hs.size()].cancel();
          co_await weft::yield_now();
        }
        for (auto& h : hs) co_await h;  // every await of a locker catches its cancellation
        EXPECT_FALSE(m.locked());
        EXPECT_TRUE(m.try_lock());
        m.unlock();
      }(t, per_task),
      virtual_clock(4));
  EXPECT_EQ(t.max_inside.load(), 1);
  EXPECT_EQ(t.counter, t.locked.load());
  EXPECT_EQ(t.locked + t.timed_out + t.cancelled, static_cast<long>(kTasks * per_task));
}

}  // namespace
