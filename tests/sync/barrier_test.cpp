// weft::Barrier: rounds with unique arrival indices, reuse, cancellation and timeouts that
// take the waiter out of the count, abort and reset, bad input, and rounds across workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
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

weft::Task<std::ptrdiff_t> arrive(weft::Barrier& b, std::atomic<int>& arrived) {
  arrived.fetch_add(1);
  co_return co_await b.wait();
}

TEST(Barrier, PartiesBelowOneThrowInvalidArgument) {
  try {
    weft::Barrier b(0);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("parties"), std::string::npos);
  }
  EXPECT_THROW(weft::Barrier(-3), std::invalid_argument);
}

TEST(Barrier, ARoundReleasesEveryPartyWithUniqueIndicesInArrivalOrder) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(4);
        EXPECT_EQ(b.parties(), 4);
        std::atomic<int> arrived{0};
        std::vector<weft::JoinHandle<std::ptrdiff_t>> hs;
        for (int i = 0; i < 3; ++i) {
          hs.push_back(weft::spawn(arrive(b, arrived)));
          co_await settle(arrived, i + 1);
          EXPECT_EQ(b.n_waiting(), i + 1);
        }
        EXPECT_EQ(co_await b.wait(), 3);  // the last arrival trips it
        EXPECT_EQ(b.n_waiting(), 0);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(co_await hs[i], i);
        EXPECT_FALSE(b.broken());
      }(),
      virtual_clock());
}

TEST(Barrier, OnePartyPassesAtOnce) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(1);
        EXPECT_EQ(co_await b.wait(), 0);
        EXPECT_EQ(co_await b.wait(), 0);
      }(),
      virtual_clock());
}

weft::Task<std::vector<std::ptrdiff_t>> rounds_of(weft::Barrier& b, int rounds) {
  std::vector<std::ptrdiff_t> indices;
  for (int r = 0; r < rounds; ++r) indices.push_back(co_await b.wait());
  co_return indices;
}

TEST(Barrier, IsReusableRoundAfterRound) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(3);
        constexpr int kRounds = 5;
        std::vector<weft::JoinHandle<std::vector<std::ptrdiff_t>>> hs;
        for (int i = 0; i < 3; ++i) hs.push_back(weft::spawn(rounds_of(b, kRounds)));
        std::vector<std::vector<std::ptrdiff_t>> all;
        for (auto& h : hs) all.push_back(co_await h);
        for (int r = 0; r < kRounds; ++r) {
          std::vector<std::ptrdiff_t> round;
          for (auto& v : all) round.push_back(v[r]);
          std::sort(round.begin(), round.end());
          EXPECT_EQ(round, (std::vector<std::ptrdiff_t>{0, 1, 2})) << "round " << r;
        }
      }(),
      virtual_clock(2));
}

TEST(Barrier, CancelledWaiterLeavesAndTheRoundNeedsAnotherArrival) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(3);
        std::atomic<int> arrived{0};
        auto a = weft::spawn(arrive(b, arrived));
        co_await settle(arrived, 1);
        auto c = weft::spawn(arrive(b, arrived));
        co_await settle(arrived, 2);
        EXPECT_EQ(b.n_waiting(), 2);
        a.cancel();
        EXPECT_THROW(co_await a, weft::CancelledError);
        EXPECT_EQ(b.n_waiting(), 1);
        auto d = weft::spawn(arrive(b, arrived));
        co_await settle(arrived, 3);
        EXPECT_EQ(b.n_waiting(), 2);  // not tripped: the cancelled one does not count
        EXPECT_FALSE(c.done());
        EXPECT_EQ(co_await b.wait(), 2);
        EXPECT_EQ(co_await c, 0);
        EXPECT_EQ(co_await d, 1);
      }(),
      virtual_clock());
}

TEST(Barrier, TimedOutWaitRaisesTimeoutErrorAndLeaves) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(2);
        EXPECT_THROW(co_await weft::wait_for(b.wait(), 5ms), weft::TimeoutError);
        EXPECT_EQ(b.n_waiting(), 0);
        std::atomic<int> arrived{0};
        auto h = weft::spawn(arrive(b, arrived));
        co_await settle(arrived, 1);
        EXPECT_EQ(co_await weft::wait_for(b.wait(), 5ms), 1);
        EXPECT_EQ(co_await h, 0);
      }(),
      virtual_clock(2));
}

weft::Task<void> expect_broken(weft::Barrier& b, std::atomic<int>& arrived,
                               std::atomic<int>& broken) {
  arrived.fetch_add(1);
  try {
    co_await b.wait();
  } catch (const weft::BrokenBarrierError& e) {
    EXPECT_NE(std::string(e.what()).find("weft::Barrier"), std::string::npos);
    broken.fetch_add(1);
  }
}

TEST(Barrier, AbortWakesEveryWaiterAndEveryLaterWaitWithBrokenBarrierError) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(4);
        std::atomic<int> arrived{0}, broken{0};
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < 3; ++i) hs.push_back(weft::spawn(expect_broken(b, arrived, broken)));
        co_await settle(arrived, 3);
        b.abort();
        for (auto& h : hs) co_await h;
        EXPECT_EQ(broken.load(), 3);
        EXPECT_TRUE(b.broken());
        EXPECT_EQ(b.n_waiting(), 0);
        EXPECT_THROW(co_await b.wait(), weft::BrokenBarrierError);
        b.reset();
        EXPECT_FALSE(b.broken());
        auto again = weft::spawn(rounds_of(b, 1));
        std::vector<weft::JoinHandle<std::ptrdiff_t>> more;
        for (int i = 0; i < 2; ++i) more.push_back(weft::spawn(arrive(b, arrived)));
        std::ptrdiff_t sum = co_await b.wait();
        sum += (co_await again)[0];
        sum += co_await more[0];
        sum += co_await more[1];
        EXPECT_EQ(sum, 0 + 1 + 2 + 3);
      }(),
      virtual_clock(2));
}

TEST(Barrier, ResetWakesTheWaitersWithBrokenBarrierErrorAndStaysUsable) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Barrier b(3);
        std::atomic<int> arrived{0}, broken{0};
        auto x = weft::spawn(expect_broken(b, arrived, broken));
        auto y = weft::spawn(expect_broken(b, arrived, broken));
        co_await settle(arrived, 2);
        b.reset();
        co_await x;
        co_await y;
        EXPECT_EQ(broken.load(), 2);
        EXPECT_FALSE(b.broken());
        EXPECT_EQ(b.n_waiting(), 0);
        auto h1 = weft::spawn(arrive(b, arrived));
        auto h2 = weft::spawn(arrive(b, arrived));
        co_await settle(arrived, 4);
        EXPECT_EQ(co_await b.wait(), 2);
        EXPECT_EQ(co_await h1 + co_await h2, 1);
      }(),
      virtual_clock());
}

TEST(BarrierDeathTest, DestroyingABarrierThatTasksWaitOnAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(weft::run(
                   []() -> weft::Task<void> {
                     auto b = std::make_unique<weft::Barrier>(2);
                     std::atomic<int> arrived{0};
                     auto h = weft::spawn(arrive(*b, arrived));
                     co_await settle(arrived, 1);
                     b.reset();
                   }(),
                   virtual_clock()),
               "weft::Barrier destroyed while 1 waiter");
}

// ---- stress ----

struct RoundLedger {
  explicit RoundLedger(std::size_t rounds) : masks(rounds) {}
  std::vector<std::atomic<unsigned>> masks;  // per round: the indices handed out
  std::atomic<long> timeouts{0};
};

weft::Task<void> pass_rounds(weft::Barrier& b, RoundLedger& l, std::size_t rounds, unsigned seed,
                             bool with_timeouts) {
  std::mt19937 rng(seed);
  for (std::size_t r = 0; r < rounds;) {
    std::ptrdiff_t i;
    if (with_timeouts) {
      try {
        i = co_await weft::wait_for(b.wait(), std::chrono::microseconds(100 + rng() % 900));
      } catch (const weft::TimeoutError&) {
        l.timeouts.fetch_add(1);  // left the barrier: arrive again for the same round
        continue;
      }
    } else {
      i = co_await b.wait();
    }
    unsigned bit = 1u << i;
    EXPECT_EQ(l.masks[r].fetch_or(bit) & bit, 0u) << "index " << i << " twice in round " << r;
    ++r;
    if (rng() % 4 == 0) {
      // Late for the next round: the others wait, and (on the virtual clock) time out.
      if (with_timeouts) {
        co_await weft::sleep(std::chrono::microseconds(rng() % 2000));
      } else {
        co_await weft::yield_now();
      }
    }
  }
}

void check_rounds(const RoundLedger& l, std::ptrdiff_t parties) {
  const unsigned full = (1u << parties) - 1;
  std::size_t wrong = 0;
  for (const auto& m : l.masks) wrong += m.load() != full;
  EXPECT_EQ(wrong, 0u) << "rounds without exactly one of each index";
}

TEST(BarrierStress, EveryRoundAcrossWorkersHandsOutEachIndexOnce) {
  constexpr std::ptrdiff_t kParties = 12;
  const std::size_t rounds = weft::test::scaled(2000, 20);
  RoundLedger l(rounds);
  weft::run(
      [](RoundLedger& l, std::size_t rounds) -> weft::Task<void> {
        weft::Barrier b(kParties);
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < kParties; ++i) {
          hs.push_back(weft::spawn(pass_rounds(b, l, rounds, 3u + i, false)));
        }
        for (auto& h : hs) co_await h;  // a lost wake-up would hang here
        EXPECT_EQ(b.n_waiting(), 0);
      }(l, rounds),
      {.workers = 4});
  check_rounds(l, kParties);
}

TEST(BarrierStress, WaitersTimingOutAtRandomNeverBreakARound) {
  constexpr std::ptrdiff_t kParties = 6;
  const std::size_t rounds = weft::test::scaled(1000, 20);
  RoundLedger l(rounds);
  weft::run(
      [](RoundLedger& l, std::size_t rounds) -> weft::Task<void> {
        weft::Barrier b(kParties);
        std::vector<weft::JoinHandle<void>> hs;
        for (int i = 0; i < kParties; ++i) {
          hs.push_back(weft::spawn(pass_rounds(b, l, rounds, 31u + i, true)));
        }
        for (auto& h : hs) co_await h;
        EXPECT_EQ(b.n_waiting(), 0);
      }(l, rounds),
      virtual_clock(4));
  check_rounds(l, kParties);
  EXPECT_GT(l.timeouts.load(), 0);
}

// The cancellation of the last waiter races with the arrival that trips the barrier: either
// the trip wins (the waiter passes) or the cancellation does (it leaves, and the trip puts the
// waiters it claimed back and waits). Both outcomes must leave exactly one of each index.
TEST(BarrierStress, CancellationRacingTheTripLosesNoArrival) {
  constexpr std::ptrdiff_t kParties = 32;
  const int iterations = static_cast<int>(weft::test::scaled(400, 20));
  std::atomic<int> go{-1}, cancelled_in{-1};
  std::atomic<weft::JoinHandle<std::ptrdiff_t>*> victim{nullptr};
  std::thread canceller([&] {
    for (int i = 0; i < iterations; ++i) {
      while (go.load() != i) std::this_thread::yield();
      victim.load()->cancel();
      cancelled_in.store(i);
    }
  });
  long left = 0;
  weft::run(
      [](int iterations, std::atomic<int>& go, std::atomic<int>& cancelled_in,
         std::atomic<weft::JoinHandle<std::ptrdiff_t>*>& victim, long& left) -> weft::Task<void> {
        for (int i = 0; i < iterations; ++i) {
          weft::Barrier b(kParties);
          std::atomic<int> arrived{0};
          std::vector<weft::JoinHandle<std::ptrdiff_t>> hs;
          for (int k = 0; k + 1 < kParties; ++k) hs.push_back(weft::spawn(arrive(b, arrived)));
          while (b.n_waiting() < kParties - 1) co_await weft::yield_now();
          victim.store(&hs.back());  // the last in line: the trip reaches it last
          auto tripper = weft::spawn(
              [](weft::Barrier& b, std::atomic<int>& go, int i) -> weft::Task<std::ptrdiff_t> {
                go.store(i);
                co_return co_await b.wait();
              }(b, go, i));
          while (cancelled_in.load() != i) co_await weft::yield_now();
          std::vector<std::ptrdiff_t> indices;
          bool victim_left = false;
          try {
            indices.push_back(co_await hs.back());
          } catch (const weft::CancelledError&) {
            victim_left = true;
          }
          if (victim_left) {
            ++left;
            indices.push_back(co_await b.wait());  // the round still needs one arrival
          }
          for (std::size_t k = 0; k + 1 < hs.size(); ++k) indices.push_back(co_await hs[k]);
          indices.push_back(co_await tripper);
          std::sort(indices.begin(), indices.end());
          for (std::ptrdiff_t k = 0; k < kParties; ++k) {
            EXPECT_EQ(indices[static_cast<std::size_t>(k)], k) << "iteration " << i;
          }
          EXPECT_EQ(b.n_waiting(), 0);
        }
      }(iterations, go, cancelled_in, victim, left),
      {.workers = 2});
  canceller.join();
  EXPECT_LE(left, iterations);
}

}  // namespace
