// weft::Condition: wait releases and re-acquires the mutex, notify/notify_all wake exactly
// the waiters asked for, cancellation and timeouts re-acquire the mutex and lose no
// notification, misuse errors, and no lost wake-up across workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
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

/// Waits once on `c` and records, once the wait returned, whether it holds the mutex.
weft::Task<void> wait_once(weft::Condition& c, int id, std::vector<int>& order,
                           std::atomic<int>& arrived) {
  auto g = co_await c.lock();
  arrived.fetch_add(1);
  co_await c.wait(g);
  EXPECT_TRUE(g.owns_lock());
  EXPECT_TRUE(c.locked());
  order.push_back(id);
}

TEST(Condition, WaitReleasesTheMutexAndHoldsItAgainWhenItReturns) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        weft::Condition c(m);
        EXPECT_EQ(&c.mutex(), &m);
        std::vector<int> order;
        std::atomic<int> arrived{0};
        auto h = weft::spawn(wait_once(c, 1, order, arrived));
        co_await settle(arrived, 1);
        EXPECT_FALSE(m.locked());  // released by the wait
        auto g = co_await m.lock();
        c.notify();
        co_await weft::yield_now();  // the woken waiter runs and waits for the mutex
        EXPECT_TRUE(order.empty());
        g.unlock();
        co_await h;
        EXPECT_EQ(order, std::vector<int>{1});
        EXPECT_FALSE(m.locked());
      }(),
      virtual_clock());
}

TEST(Condition, DefaultConstructedConditionOwnsItsMutex) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        auto g = co_await c.lock();
        EXPECT_TRUE(c.locked());
        EXPECT_TRUE(c.mutex().locked());
        c.notify_all();  // nobody waits: nothing happens
        g.unlock();
        EXPECT_FALSE(c.locked());
      }(),
      virtual_clock());
}

TEST(Condition, NotifyWakesExactlyOneWaiterInArrivalOrder) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 4; ++i) {
          hs.push_back(weft::spawn(wait_once(c, i, order, arrived)));
          co_await settle(arrived, i + 1);
        }
        for (int round = 0; round < 4; ++round) {
          {
            auto g = co_await c.lock();
            c.notify();
          }
          co_await hs[round];
          co_await settle(arrived, 4);  // the others had every chance to run: still waiting
          EXPECT_EQ(order.size(), static_cast<std::size_t>(round + 1));
        }
        EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
      }(),
      virtual_clock());
}

TEST(Condition, NotifyNWakesNWaitersAndNotifyAllTheRest) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        std::vector<int> order;
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 6; ++i) {
          hs.push_back(weft::spawn(wait_once(c, i, order, arrived)));
          co_await settle(arrived, i + 1);
        }
        {
          auto g = co_await c.lock();
          c.notify(2);
        }
        co_await hs[0];
        co_await hs[1];
        co_await settle(arrived, 6);
        EXPECT_EQ(order.size(), 2u);
        {
          auto g = co_await c.lock();
          c.notify_all();
        }
        for (std::size_t i = 2; i < hs.size(); ++i) co_await hs[i];
        EXPECT_EQ(order.size(), 6u);
      }(),
      virtual_clock());
}

TEST(Condition, NotifyWithoutTheMutexThrowsUsageError) {
  weft::Condition c;
  try {
    c.notify();
    FAIL() << "no exception";
  } catch (const weft::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not locked"), std::string::npos);
  }
  EXPECT_THROW(c.notify_all(), weft::UsageError);
}

TEST(Condition, WaitWithAGuardOfAnotherMutexThrowsUsageErrorAndKeepsTheGuard) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex other;
        weft::Condition c;
        auto g = co_await other.lock();
        try {
          co_await c.wait(g);
          ADD_FAILURE() << "no exception";
        } catch (const weft::UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("does not hold"), std::string::npos);
        }
        EXPECT_TRUE(g.owns_lock());
        EXPECT_TRUE(other.locked());
        weft::MutexGuard empty;
        EXPECT_THROW(co_await c.wait(empty), weft::UsageError);
      }(),
      virtual_clock());
}

weft::Task<void> wait_and_check_the_lock_on_cancel(weft::Condition& c, std::atomic<int>& arrived,
                                                   std::atomic<int>& held_on_cancel) {
  auto g = co_await c.lock();
  arrived.fetch_add(1);
  try {
    co_await c.wait(g);
    ADD_FAILURE() << "the wait returned instead of raising";
  } catch (const weft::CancelledError&) {
    held_on_cancel.store(g.owns_lock() && c.locked() ? 1 : -1);
    throw;
  }
}

TEST(Condition, CancelledWaitHoldsTheMutexAgainBeforeRaising) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        std::atomic<int> arrived{0}, held{0};
        auto h = weft::spawn(wait_and_check_the_lock_on_cancel(c, arrived, held));
        co_await settle(arrived, 1);
        auto g = co_await c.lock();
        h.cancel();
        co_await settle(arrived, 1);
        EXPECT_EQ(held.load(), 0);  // still re-acquiring: we hold the mutex
        g.unlock();
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_EQ(held.load(), 1);
        EXPECT_FALSE(c.locked());  // the guard unlocked it as the error unwound
      }(),
      virtual_clock());
}

TEST(Condition, TimedOutWaitRaisesTimeoutErrorHoldingTheMutex) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        auto g = co_await c.lock();
        EXPECT_THROW(co_await weft::wait_for(c.wait(g), 5ms), weft::TimeoutError);
        EXPECT_TRUE(g.owns_lock());
        EXPECT_TRUE(c.locked());
      }(),
      virtual_clock(2));
}

TEST(Condition, CancelledWaiterTakesNoNotificationFromTheOthers) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        std::vector<int> order;
        std::atomic<int> arrived{0}, held{0};
        auto a = weft::spawn(wait_and_check_the_lock_on_cancel(c, arrived, held));
        co_await settle(arrived, 1);
        auto b = weft::spawn(wait_once(c, 2, order, arrived));
        co_await settle(arrived, 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        {
          auto g = co_await c.lock();
          c.notify();  // one notification: it must reach b
        }
        co_await b;
        EXPECT_EQ(order, std::vector<int>{2});
      }(),
      virtual_clock());
}

weft::Task<void> wait_then_yield(weft::Condition& c, std::atomic<int>& arrived,
                                 std::atomic<int>& step) {
  auto g = co_await c.lock();
  arrived.fetch_add(1);
  co_await c.wait(g);  // notified first: returns normally although cancelled meanwhile
  step.store(g.owns_lock() ? 1 : -1);
  g.unlock();
  co_await weft::yield_now();  // the cancellation is delivered here
  step.store(2);
}

TEST(Condition, WaiterNotifiedThenCancelledReturnsAndGetsTheCancellationAtItsNextAwait) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        std::atomic<int> arrived{0}, step{0};
        auto h = weft::spawn(wait_then_yield(c, arrived, step));
        co_await settle(arrived, 1);
        {
          auto g = co_await c.lock();
          c.notify();
          co_await weft::yield_now();  // the waiter now waits for the mutex
          h.cancel();
        }
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_EQ(step.load(), 1);
        EXPECT_FALSE(c.locked());
      }(),
      virtual_clock());
}

TEST(Condition, WaitForReturnsOnceThePredicateHolds) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Condition c;
        int value = 0;  // guarded by c's mutex
        std::atomic<int> checks{0};
        auto waiter = weft::spawn(
            [](weft::Condition& c, int& value, std::atomic<int>& checks) -> weft::Task<int> {
              auto g = co_await c.lock();
              co_await c.wait_for(g, [&] {
                checks.fetch_add(1);
                return value >= 3;
              });
              EXPECT_TRUE(g.owns_lock());
              co_return value;
            }(c, value, checks));
        co_await settle(checks, 1);
        for (int i = 1; i <= 3; ++i) {
          auto g = co_await c.lock();
          value = i;
          c.notify_all();
          g.unlock();
          co_await settle(checks, i + 1);  // checked again after every notify
        }
        EXPECT_EQ(co_await waiter, 3);
        EXPECT_EQ(checks.load(), 4);
        // A predicate that already holds never waits.
        auto g = co_await c.lock();
        co_await c.wait_for(g, [] { return true; });
        EXPECT_TRUE(g.owns_lock());
      }(),
      virtual_clock());
}

TEST(ConditionDeathTest, DestroyingAConditionThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     weft::Mutex m;
                     auto c = std::make_unique<weft::Condition>(m);
                     std::vector<int> order;
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(wait_once(*c, 1, order, arrived));
                     co_await settle(arrived, 1);
                     c.reset();
                   }(),
                   virtual_clock()),
               "weft::Condition destroyed while 1 waiter");
}

// ---- stress ----

struct Buffer {
  weft::Condition not_empty;
  weft::Condition not_full{not_empty.mutex()};
  std::deque<int> items;  // guarded by not_empty.mutex()
  std::size_t capacity = 4;
  std::atomic<long> timeouts{0};
};

weft::Task<void> produce(Buffer& b, int first, int n, unsigned seed) {
  std::mt19937 rng(seed);
  for (int i = first; i < first + n;) {
    auto g = co_await b.not_full.lock();
    try {
      auto full = [&] { return b.items.size() >= b.capacity; };
      while (full()) {
        co_await weft::wait_for(b.not_full.wait(g), std::chrono::microseconds(rng() % 3000));
      }
    } catch (const weft::TimeoutError&) {
      b.timeouts.fetch_add(1);  // the mutex is held again: give up this try
      continue;
    }
    EXPECT_TRUE(g.owns_lock());
    b.items.push_back(i++);
    b.not_empty.notify();  // one consumer is enough for one item
  }
}

weft::Task<void> consume(Buffer& b, std::vector<std::atomic<int>>& seen, std::atomic<int>& left,
                         unsigned seed) {
  std::mt19937 rng(seed);
  for (;;) {
    auto g = co_await b.not_empty.lock();
    try {
      while (b.items.empty()) {
        if (left.load() == 0) co_return;
        co_await weft::wait_for(b.not_empty.wait(g), std::chrono::microseconds(rng() % 3000));
      }
    } catch (const weft::TimeoutError&) {
      b.timeouts.fetch_add(1);
      continue;
    }
    seen[b.items.front()].fetch_add(1);
    b.items.pop_front();
    if (left.fetch_sub(1) == 1) b.not_empty.notify_all();  // the last item: release everyone
    b.not_full.notify();
  }
}

TEST(ConditionStress, BoundedBufferWithRandomTimeoutsDeliversEveryItemOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  const int per_producer = static_cast<int>(weft::test::scaled(2000, 40));
  const int total = kProducers * per_producer;
  std::vector<std::atomic<int>> seen(total);
  weft::run(
      [](std::vector<std::atomic<int>>& seen, int per, int total) -> weft::Task<void> {
        Buffer b;
        std::atomic<int> left{total};
        std::vector<weft::JoinHandle<void>> hs;
        for (int p = 0; p < kProducers; ++p)
          hs.push_back(weft::spawn(produce(b, p * per, per, 1u + p)));
        for (int c = 0; c < kConsumers; ++c)
          hs.push_back(weft::spawn(consume(b, seen, left, 9u + c)));
        for (auto& h : hs) co_await h;
        EXPECT_TRUE(b.items.empty());
        EXPECT_FALSE(b.not_empty.locked());
      }(seen, per_producer, total),
      virtual_clock(4));
  int wrong = 0;
  for (auto& s : seen) wrong += s.load() != 1;
  EXPECT_EQ(wrong, 0) << "items not consumed exactly once";
}

weft::Task<void> wait_for_generations(weft::Condition& c, const int& generation, int rounds,
                                      std::atomic<long>& woken) {
  auto g = co_await c.lock();
  for (int seen = 0; seen < rounds;) {
    while (generation == seen) co_await c.wait(g);
    seen = generation;
    woken.fetch_add(1);
  }
}

TEST(ConditionStress, NotifyAllReachesEveryWaiterAcrossWorkers) {
  const int rounds = static_cast<int>(weft::test::scaled(300, 10));
  constexpr int kWaiters = 32;
  weft::run(
      [](int rounds) -> weft::Task<void> {
        weft::Condition c;
        int generation = 0;  // guarded by c's mutex
        std::atomic<long> woken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < kWaiters; ++i) {
          hs.push_back(weft::spawn(wait_for_generations(c, generation, rounds, woken)));
        }
        for (int r = 1; r <= rounds; ++r) {
          auto g = co_await c.lock();
          generation = r;
          c.notify_all();  // races with waiters that are still on their way into wait()
          g.unlock();
          if (r % 4 == 0) co_await weft::yield_now();
        }
        for (auto& h : hs) co_await h;  // a lost wake-up would hang here
        EXPECT_GE(woken.load(), long{kWaiters});
        EXPECT_FALSE(c.locked());
      }(rounds),
      {.workers = 4});
}

}  // namespace
