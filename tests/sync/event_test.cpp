// weft::Event: set wakes every waiter, clear, cancellation and timeouts of waits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <weft/sync.hpp>
#include <weft/weft.hpp>

#include "stress_scale.hpp"
#include "sync_test_util.hpp"

using namespace std::chrono_literals;
using weft::test::settle;
using weft::test::virtual_clock;

namespace {

weft::Task<void> wait_and_count(weft::Event& e, std::atomic<int>& arrived,
                                std::atomic<int>& woken) {
  arrived.fetch_add(1);
  co_await e.wait();
  woken.fetch_add(1);
}

TEST(Event, StartsClearAndSetClearAreVisibleAtOnce) {
  weft::Event e;
  EXPECT_FALSE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(Event, WaitOnASetEventReturnsAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Event e;
        e.set();
        co_await e.wait();
        co_await e.wait();
      }(),
      virtual_clock());
}

TEST(Event, SetWakesEveryWaiter) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Event e;
        std::atomic<int> arrived{0}, woken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 10; ++i) hs.push_back(weft::spawn(wait_and_count(e, arrived, woken)));
        co_await settle(arrived, 10);
        EXPECT_EQ(woken.load(), 0);
        e.set();
        for (auto& h : hs) co_await h;
        EXPECT_EQ(woken.load(), 10);
      }(),
      virtual_clock());
}

TEST(Event, WaitAfterClearSuspendsUntilTheNextSet) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Event e;
        e.set();
        e.clear();
        EXPECT_THROW(co_await weft::wait_for(e.wait(), 5ms), weft::TimeoutError);
        std::atomic<int> arrived{0}, woken{0};
        auto h = weft::spawn(wait_and_count(e, arrived, woken));
        co_await settle(arrived, 1);
        EXPECT_EQ(woken.load(), 0);
        e.set();
        co_await h;
        EXPECT_EQ(woken.load(), 1);
      }(),
      virtual_clock(2));
}

TEST(Event, CancelledWaiterRaisesCancelledErrorAndTheOthersStillWake) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Event e;
        std::atomic<int> arrived{0}, woken{0};
        auto a = weft::spawn(wait_and_count(e, arrived, woken));
        auto b = weft::spawn(wait_and_count(e, arrived, woken));
        auto c = weft::spawn(wait_and_count(e, arrived, woken));
        co_await settle(arrived, 3);
        b.cancel();
        EXPECT_THROW(co_await b, weft::CancelledError);
        e.set();
        co_await a;
        co_await c;
        EXPECT_EQ(woken.load(), 2);
      }(),
      virtual_clock());
}

TEST(EventDeathTest, DestroyingAnEventThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto e = std::make_unique<weft::Event>();
                     std::atomic<int> arrived{0}, woken{0};
                     auto h = weft::spawn(wait_and_count(*e, arrived, woken));
                     co_await settle(arrived, 1);
                     e.reset();
                   }(),
                   virtual_clock()),
               "weft::Event destroyed while 1 waiter");
}

// ---- stress ----

weft::Task<void> wait_rounds(std::vector<weft::Event>& rounds, std::atomic<int>& woken) {
  for (auto& e : rounds) {
    co_await e.wait();
    woken.fetch_add(1);
  }
}

TEST(EventStress, EverySetWakesEveryWaiterAcrossWorkers) {
  const std::size_t n_rounds = weft::test::scaled(200, 5);
  constexpr int kWaiters = 50;
  int woken = weft::run(
      [](std::size_t n) -> weft::Task<int> {
        std::vector<weft::Event> rounds(n);
        std::atomic<int> woken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < kWaiters; ++i) hs.push_back(weft::spawn(wait_rounds(rounds, woken)));
        for (std::size_t r = 0; r < n; ++r) {
          rounds[r].set();  // races with waiters that are still linking into this round
          if (r % 8 == 0) co_await weft::yield_now();
        }
        for (auto& h : hs) co_await h;
        co_return woken.load();
      }(n_rounds),
      {.workers = 4});
  EXPECT_EQ(woken, static_cast<int>(kWaiters * n_rounds));
}

}  // namespace
