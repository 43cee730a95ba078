// weft::Latch: count_down to zero wakes every waiter once, add before release (WaitGroup),
// bad input, cancellation and timeouts, plain threads in blocking_wait, and no lost wake-up
// across workers and threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
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

weft::Task<void> wait_and_count(weft::Latch& l, std::atomic<int>& arrived,
                                std::atomic<int>& woken) {
  arrived.fetch_add(1);
  co_await l.wait();
  woken.fetch_add(1);
}

TEST(Latch, NegativeCountThrowsInvalidArgument) {
  try {
    weft::Latch l(-1);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos);
  }
}

TEST(Latch, CountDownBelowZeroThrowsLogicErrorAndChangesNothing) {
  weft::Latch l(2);
  try {
    l.count_down(3);
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("below zero"), std::string::npos);
  }
  EXPECT_EQ(l.count(), 2);
  EXPECT_THROW(l.count_down(-1), std::invalid_argument);
  EXPECT_THROW(l.add(-1), std::invalid_argument);
  l.count_down(2);
  EXPECT_TRUE(l.try_wait());
  EXPECT_THROW(l.count_down(), std::logic_error);
  l.count_down(0);  // nothing to count: fine
}

TEST(Latch, CountingDownToZeroWakesEveryWaiterOnce) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch l(3);
        std::atomic<int> arrived{0}, woken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 5; ++i) hs.push_back(weft::spawn(wait_and_count(l, arrived, woken)));
        co_await settle(arrived, 5);
        l.count_down();
        l.count_down();
        co_await settle(arrived, 5);
        EXPECT_EQ(woken.load(), 0);
        EXPECT_FALSE(l.try_wait());
        EXPECT_EQ(l.count(), 1);
        l.count_down();
        for (auto& h : hs) co_await h;
        EXPECT_EQ(woken.load(), 5);
        co_await l.wait();  // open for good
      }(),
      virtual_clock());
}

TEST(Latch, WaitOnAZeroCountReturnsAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch l(0);
        EXPECT_TRUE(l.try_wait());
        co_await l.wait();
        weft::Latch one(1);
        co_await one.arrive_and_wait();
        EXPECT_EQ(one.count(), 0);
      }(),
      virtual_clock());
}

TEST(Latch, AddBeforeReleaseWorksLikeAWaitGroup) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch wg(0);
        std::atomic<int> done{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 4; ++i) {
          wg.add(1);
          hs.push_back(weft::spawn([](weft::Latch& wg, std::atomic<int>& done) -> weft::Task<void> {
            co_await weft::sleep(1ms);
            done.fetch_add(1);
            wg.count_down();
          }(wg, done)));
        }
        EXPECT_EQ(wg.count(), 4);
        co_await wg.wait();
        EXPECT_EQ(done.load(), 4);
        try {
          wg.add(1);
          ADD_FAILURE() << "no exception";
        } catch (const std::logic_error& e) {
          EXPECT_NE(std::string(e.what()).find("single-use"), std::string::npos);
        }
        for (auto& h : hs) co_await h;
      }(),
      virtual_clock(2));
}

TEST(Latch, CancelledWaiterRaisesCancelledErrorAndTheOthersStillWake) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch l(1);
        std::atomic<int> arrived{0}, woken{0};
        auto a = weft::spawn(wait_and_count(l, arrived, woken));
        auto b = weft::spawn(wait_and_count(l, arrived, woken));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        l.count_down();
        co_await b;
        EXPECT_EQ(woken.load(), 1);
      }(),
      virtual_clock());
}

TEST(Latch, TimedOutWaitRaisesTimeoutError) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch l(1);
        EXPECT_THROW(co_await weft::wait_for(l.wait(), 5ms), weft::TimeoutError);
        l.count_down();
        co_await weft::wait_for(l.wait(), 5ms);
      }(),
      virtual_clock(2));
}

TEST(Latch, BlockingWaitOnAWorkerThrowsUsageError) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Latch l(0);
        EXPECT_THROW(l.blocking_wait(), weft::UsageError);
        co_return;
      }(),
      virtual_clock());
}

TEST(Latch, PlainThreadsInBlockingWaitWakeWhenTasksCountDown) {
  weft::Runtime rt({.workers = 2});
  weft::Latch l(3);
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      l.blocking_wait();
      woken.fetch_add(1);
    });
  }
  rt.block_on([](weft::Latch& l) -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < 3; ++i) {
      hs.push_back(weft::spawn([](weft::Latch& l) -> weft::Task<void> {
        l.count_down();
        co_return;
      }(l)));
    }
    for (auto& h : hs) co_await h;
  }(l));
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), 3);
  l.blocking_wait();  // zero: returns at once
}

TEST(LatchDeathTest, DestroyingALatchThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto l = std::make_unique<weft::Latch>(1);
                     std::atomic<int> arrived{0}, woken{0};
                     auto h = weft::spawn(wait_and_count(*l, arrived, woken));
                     co_await settle(arrived, 1);
                     l.reset();
                   }(),
                   virtual_clock()),
               "weft::Latch destroyed while 1 waiter");
}

// ---- stress ----

TEST(LatchStress, EveryLatchWakesEveryTaskAndThreadAcrossWorkers) {
  const std::size_t n_latches = weft::test::scaled(300, 10);
  constexpr int kWaiters = 16;
  constexpr int kCounters = 4;
  constexpr int kThreads = 2;
  std::vector<std::unique_ptr<weft::Latch>> latches;
  for (std::size_t i = 0; i < n_latches; ++i) {
    latches.push_back(std::make_unique<weft::Latch>(kCounters + 1));
  }
  std::atomic<long> task_wakes{0}, thread_wakes{0};
  weft::Runtime rt({.workers = 4});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (auto& l : latches) {
        l->blocking_wait();
        thread_wakes.fetch_add(1);
      }
    });
  }
  std::thread plain_counter([&] {
    for (auto& l : latches) l->count_down();  // one count of each from outside the runtime
  });
  rt.block_on([](std::vector<std::unique_ptr<weft::Latch>>& latches,
                 std::atomic<long>& task_wakes) -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    for (int i = 0; i < kWaiters; ++i) {
      hs.push_back(weft::spawn([](std::vector<std::unique_ptr<weft::Latch>>& latches,
                                  std::atomic<long>& task_wakes) -> weft::Task<void> {
        for (auto& l : latches) {
          co_await l->wait();
          task_wakes.fetch_add(1);
        }
      }(latches, task_wakes)));
    }
    for (int i = 0; i < kCounters; ++i) {
      hs.push_back(
          weft::spawn([](std::vector<std::unique_ptr<weft::Latch>>& latches) -> weft::Task<void> {
            std::size_t n = 0;
            for (auto& l : latches) {
              l->count_down();  // races with waiters still linking into this latch
              if (++n % 8 == 0) co_await weft::yield_now();
            }
          }(latches)));
    }
    for (auto& h : hs) co_await h;  // a lost wake-up would hang here
  }(latches, task_wakes));
  plain_counter.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(task_wakes.load(), static_cast<long>(kWaiters * n_latches));
  EXPECT_EQ(thread_wakes.load(), static_cast<long>(kThreads * n_latches));
  for (auto& l : latches) EXPECT_EQ(l->count(), 0);
}

}  // namespace
