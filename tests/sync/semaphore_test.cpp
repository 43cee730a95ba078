// weft::Semaphore and BoundedSemaphore: permits, FIFO, guards, cancellation that hands
// the permit on, bad input, and permits accounted for under stress.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

constexpr int kPermits = 3;  // of the semaphore stress test

TEST(Semaphore, NegativeInitialValueThrowsInvalidArgument) {
  try {
    weft::Semaphore s(-1);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos);
  }
  EXPECT_THROW(weft::BoundedSemaphore(-2), std::invalid_argument);
}

TEST(Semaphore, TryAcquireTakesFreePermitsUntilNoneIsLeft) {
  weft::Semaphore s(2);
  EXPECT_FALSE(s.locked());
  EXPECT_TRUE(s.try_acquire());
  EXPECT_TRUE(s.try_acquire());
  EXPECT_TRUE(s.locked());
  EXPECT_FALSE(s.try_acquire());
  s.release();
  EXPECT_EQ(s.value(), 1);
}

TEST(Semaphore, AcquireReturnsAGuardThatReleasesThePermit) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Semaphore s(1);
        {
          auto g = co_await s.acquire();
          EXPECT_TRUE(g.owns_permit());
          EXPECT_TRUE(s.locked());
        }
        EXPECT_EQ(s.value(), 1);
        auto g = co_await s.acquire();
        g.release();
        EXPECT_EQ(s.value(), 1);
        EXPECT_THROW(g.release(), weft::UsageError);
        auto g2 = co_await s.acquire();
        g2.disarm();
        EXPECT_EQ(s.value(), 0);
        s.release();
        EXPECT_EQ(s.value(), 1);
      }(),
      virtual_clock());
}

TEST(Semaphore, UnboundedReleaseGrowsTheValue) {
  weft::Semaphore s(0);
  s.release();
  s.release();
  EXPECT_EQ(s.value(), 2);
}

TEST(BoundedSemaphore, ReleaseAboveTheInitialValueThrowsLogicError) {
  weft::BoundedSemaphore s(2);
  try {
    s.release();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("BoundedSemaphore"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("initial value 2"), std::string::npos);
  }
  EXPECT_TRUE(s.try_acquire());
  s.release();
  EXPECT_THROW(s.release(), std::logic_error);
  EXPECT_EQ(s.value(), 2);
}

weft::Task<void> acquire_and_record(weft::Semaphore& s, int id, std::vector<int>& order,
                                    std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  auto g = co_await s.acquire();
  order.push_back(id);
  co_await weft::yield_now();
}

TEST(Semaphore, WaitersGetPermitsInTheOrderTheyArrived) {
  std::vector<int> order = weft::run(
      []() -> weft::Task<std::vector<int>> {
        weft::Semaphore s(0);
        std::vector<int> order;
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 6; ++i) {
          hs.push_back(weft::spawn(acquire_and_record(s, i, order, arrived)));
          co_await settle(arrived, i + 1);
        }
        s.release();  // one permit, passed along as each finishes
        for (auto& h : hs) co_await h;
        EXPECT_EQ(s.value(), 1);
        co_return order;
      }(),
      virtual_clock());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(Semaphore, ReleaseGivesThePermitToAWaiterNotToANewcomer) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Semaphore s(0);
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto h = weft::spawn(acquire_and_record(s, 1, order, arrived));
        co_await settle(arrived, 1);
        s.release();
        EXPECT_FALSE(s.try_acquire());
        co_await h;
        EXPECT_EQ(s.value(), 1);
      }(),
      virtual_clock());
}

TEST(Semaphore, CancelledAcquireTakesNoPermitAndTheNextWaiterGetsIt) {
  std::vector<int> order = weft::run(
      []() -> weft::Task<std::vector<int>> {
        weft::Semaphore s(0);
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto a = weft::spawn(acquire_and_record(s, 1, order, arrived));
        co_await settle(arrived, 1);
        auto b = weft::spawn(acquire_and_record(s, 2, order, arrived));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        s.release();
        co_await b;
        EXPECT_EQ(s.value(), 1);
        co_return order;
      }(),
      virtual_clock());
  EXPECT_EQ(order, (std::vector<int>{2}));
}

TEST(Semaphore, TimedOutAcquireRaisesTimeoutErrorAndTakesNoPermit) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Semaphore s(0);
        EXPECT_THROW((void)co_await weft::test::acquire_within(s, 2ms), weft::TimeoutError);
        s.release();
        EXPECT_EQ(s.value(), 1);
        auto g = co_await weft::test::acquire_within(s, 2ms);
        EXPECT_EQ(s.value(), 0);
      }(),
      virtual_clock(2));
}

TEST(SemaphoreDeathTest, DestroyingASemaphoreThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto s = std::make_unique<weft::Semaphore>(0);
                     std::vector<int> order;
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(acquire_and_record(*s, 1, order, arrived));
                     co_await settle(arrived, 1);
                     s.reset();
                   }(),
                   virtual_clock()),
               "weft::Semaphore destroyed while 1 waiter");
}

// ---- stress ----

struct Permits {
  std::atomic<int> held{0};
  std::atomic<int> max_held{0};
  std::atomic<long> acquired{0};
  std::atomic<long> failed{0};
};

weft::Task<void> acquire_with_random_timeouts(weft::Semaphore& s, Permits& p, std::size_t n,
                                              unsigned seed, std::atomic<int>& started) {
  started.fetch_add(1);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      auto g = co_await weft::test::acquire_within(s, std::chrono::microseconds(rng() % 4000));
      int h = p.held.fetch_add(1) + 1;
      int mx = p.max_held.load();
      while (h > mx && !p.max_held.compare_exchange_weak(mx, h)) {
      }
      p.acquired.fetch_add(1);
      if (rng() % 2) {
        try {  // hold it a while of virtual time: waiters pile up and time out meanwhile
          co_await weft::sleep(std::chrono::microseconds(rng() % 1500));
        } catch (const weft::CancelledError&) {
          // the permit was got: counted as acquired
        }
      }
      p.held.fetch_sub(1);
    } catch (const weft::TimeoutError&) {
      p.failed.fetch_add(1);
    } catch (const weft::CancelledError&) {
      p.failed.fetch_add(1);
    }
  }
}

TEST(SemaphoreStress, RandomlyTimedOutAcquirersAccountForEveryPermit) {
  const std::size_t per_task = weft::test::scaled(300, 10);
  constexpr int kTasks = 40;

  Permits p;
  weft::run(
      [](Permits& p, std::size_t n) -> weft::Task<void> {
        weft::BoundedSemaphore s(kPermits);
        std::vector<weft::JoinHandle<void>> hs;
        std::atomic<int> started{0};
        for (int i = 0; i < kTasks; ++i) {
          hs.push_back(weft::spawn(acquire_with_random_timeouts(s, p, n, 77u + i, started)));
        }
        co_await settle(started, kTasks);  // a task cancelled before it starts would never run
        std::mt19937 rng(5);
        for (int round = 0; round < 200; ++round) {
          hs[rng() % hs.size()].cancel();
          co_await weft::yield_now();
        }
        for (auto& h : hs) co_await h;
        EXPECT_EQ(s.value(), kPermits);  // every permit came back
        for (int i = 0; i < kPermits; ++i) EXPECT_TRUE(s.try_acquire());
        EXPECT_FALSE(s.try_acquire());
      }(p, per_task),
      virtual_clock(4));
  EXPECT_LE(p.max_held.load(), kPermits);
  EXPECT_EQ(p.acquired + p.failed, static_cast<long>(kTasks * per_task));
}

}  // namespace
