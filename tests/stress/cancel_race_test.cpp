// Cancellation racing every other way a wait can end, many times over, on 2 and 4 workers:
// the task's own completion, a timer firing, and a wake-up coming from another worker (the
// awaited task finishing there). Each iteration checks DESIGN invariant 1 (the code after
// the await runs exactly once: a counter per outcome) and, at the end, that no task leaked.
//
// The races are real (workers run in parallel); their outcomes vary, so the tests only
// assert what holds for every interleaving.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <latch>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

struct Counters {
  std::atomic<std::size_t> iterations{0};
  std::atomic<std::size_t> resumed{0};     // the awaiting code ran (any outcome)
  std::atomic<std::size_t> values{0};      // ... with the value
  std::atomic<std::size_t> cancelled{0};   // ... with CancelledError
  std::atomic<std::size_t> child_body{0};  // the racing task's code after its await
  std::atomic<std::size_t> child_cancelled{0};
  std::atomic<std::size_t> other{0};  // anything else: always a failure

  void expect_consistent(std::size_t expected_iterations) const {
    EXPECT_EQ(iterations.load(), expected_iterations);
    EXPECT_EQ(resumed.load(), expected_iterations);
    EXPECT_EQ(values.load() + cancelled.load(), expected_iterations);
    EXPECT_EQ(other.load(), 0u);
  }
};

/// Runs `rounds` rounds of `width` concurrent copies of `iteration(i, counters)`.
template <class Iteration>
weft::Task<void> rounds_of(std::size_t rounds, std::size_t width, Counters& c,
                           Iteration iteration) {
  std::vector<weft::JoinHandle<void>> hs;
  hs.reserve(width);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < width; ++k) hs.push_back(weft::spawn(iteration(r * width + k, c)));
    for (auto& h : hs) co_await h;
    hs.clear();
  }
}

template <class Iteration>
void run_race(std::size_t workers, std::size_t iterations, Iteration iteration,
              weft::ClockKind clock = weft::ClockKind::Real) {
  constexpr std::size_t kWidth = 32;
  const std::size_t rounds = (iterations + kWidth - 1) / kWidth;
  Counters c;
  weft::Runtime rt({.workers = workers, .clock = clock});
  rt.block_on(rounds_of(rounds, kWidth, c, iteration));
  c.expect_consistent(rounds * kWidth);
  EXPECT_LE(c.child_body.load() + c.child_cancelled.load(), rounds * kWidth);
  EXPECT_EQ(rt.live_tasks(), 0u);
  rt.shutdown();
  EXPECT_EQ(rt.live_tasks(), 0u);
}

// ---- cancellation racing completion -----------------------------------------------------

weft::Task<int> finish_after_yields(std::size_t yields, Counters& c,
                                    std::atomic<int>* runs = nullptr) {
  if (runs) runs->fetch_add(1);
  try {
    for (std::size_t i = 0; i < yields; ++i) co_await weft::yield_now();
  } catch (const weft::CancelledError&) {
    c.child_cancelled.fetch_add(1);
    throw;
  }
  c.child_body.fetch_add(1);
  co_return 1;
}

weft::Task<void> cancel_after_yields(weft::JoinHandle<int>& h, std::size_t yields) {
  for (std::size_t i = 0; i < yields; ++i) co_await weft::yield_now();
  h.cancel();
}

weft::Task<void> cancel_vs_completion(std::size_t i, Counters& c) {
  c.iterations.fetch_add(1);
  std::atomic<int> runs{0};  // how often the child's body started: at most once
  weft::JoinHandle<int> child = weft::spawn(finish_after_yields(i % 3, c, &runs));
  weft::JoinHandle<void> killer = weft::spawn(cancel_after_yields(child, (i / 3) % 3));
  bool value = false;
  try {
    int v = co_await child;
    value = true;
    c.values.fetch_add(v == 1 ? 1 : 0);
    if (v != 1) c.other.fetch_add(1);
  } catch (const weft::CancelledError&) {
    c.cancelled.fetch_add(1);
  } catch (...) {
    c.other.fetch_add(1);
  }
  c.resumed.fetch_add(1);
  co_await killer;
  if (runs.load() > 1 || (value && runs.load() != 1)) c.other.fetch_add(1);
}

TEST(CancelRace, CancellationRacingCompletionResumesTheAwaiterOnceOnTwoWorkers) {
  run_race(2, weft::test::scaled(20'000, 64), cancel_vs_completion);
}

TEST(CancelRace, CancellationRacingCompletionResumesTheAwaiterOnceOnFourWorkers) {
  run_race(4, weft::test::scaled(20'000, 64), cancel_vs_completion);
}

// Two cancellers at once, and the task's completion: cancel() is idempotent.
weft::Task<void> two_cancels_vs_completion(std::size_t i, Counters& c) {
  c.iterations.fetch_add(1);
  weft::JoinHandle<int> child = weft::spawn(finish_after_yields(i % 2, c));
  weft::JoinHandle<void> k1 = weft::spawn(cancel_after_yields(child, i % 3));
  weft::JoinHandle<void> k2 = weft::spawn(cancel_after_yields(child, (i + 1) % 3));
  try {
    c.values.fetch_add(static_cast<std::size_t>(co_await child));
  } catch (const weft::CancelledError&) {
    c.cancelled.fetch_add(1);
  } catch (...) {
    c.other.fetch_add(1);
  }
  c.resumed.fetch_add(1);
  co_await k1;
  co_await k2;
}

TEST(CancelRace, TwoCancellationsRacingCompletionResumeTheAwaiterOnce) {
  run_race(4, weft::test::scaled(10'000, 64), two_cancels_vs_completion);
}

// ---- cancellation racing a timer --------------------------------------------------------

weft::Task<int> sleep_then_finish(Counters& c) {
  try {
    co_await weft::sleep(1ms);
  } catch (const weft::CancelledError&) {
    c.child_cancelled.fetch_add(1);
    throw;
  }
  c.child_body.fetch_add(1);
  co_return 1;
}

weft::Task<void> cancel_after_sleep(weft::JoinHandle<int>& h, std::size_t yields) {
  co_await weft::sleep(1ms);
  for (std::size_t i = 0; i < yields; ++i) co_await weft::yield_now();
  h.cancel();
}

weft::Task<void> cancel_vs_timer(std::size_t i, Counters& c) {
  c.iterations.fetch_add(1);
  weft::JoinHandle<int> child = weft::spawn(sleep_then_finish(c));
  weft::JoinHandle<void> killer = weft::spawn(cancel_after_sleep(child, i % 2));
  try {
    c.values.fetch_add(static_cast<std::size_t>(co_await child));
  } catch (const weft::CancelledError&) {
    c.cancelled.fetch_add(1);
  } catch (...) {
    c.other.fetch_add(1);
  }
  c.resumed.fetch_add(1);
  co_await killer;
}

TEST(CancelRace, CancellationRacingATimerWakeUpResumesTheSleeperOnceOnTwoWorkers) {
  run_race(2, weft::test::scaled(5'000, 64), cancel_vs_timer);
}

TEST(CancelRace, CancellationRacingATimerWakeUpResumesTheSleeperOnceOnFourWorkers) {
  run_race(4, weft::test::scaled(5'000, 64), cancel_vs_timer);
}

TEST(CancelRace, CancellationRacingAVirtualTimerWakeUpResumesTheSleeperOnce) {
  // Virtual time: timers fire when every worker is idle, possibly on another worker's wheel.
  run_race(2, weft::test::scaled(5'000, 64), cancel_vs_timer, weft::ClockKind::Virtual);
}

// A cancel from a plain thread racing timer wake-ups of tasks it does not wait for.
weft::Task<void> sleep_loop(Counters& c, std::size_t n, std::latch& started) {
  started.count_down();
  for (std::size_t i = 0; i < n; ++i) {
    try {
      co_await weft::sleep(1ms);
      c.child_body.fetch_add(1);
    } catch (const weft::CancelledError&) {
      c.child_cancelled.fetch_add(1);
    }
  }
}

TEST(CancelRace, CancellationsFromAPlainThreadRacingTimerWakeUpsEndEverySleepOnce) {
  const std::size_t tasks = 16, sleeps = weft::test::scaled(200, 10);
  Counters c;
  weft::Runtime rt({.workers = 2});
  std::latch started(static_cast<std::ptrdiff_t>(tasks));
  std::vector<weft::JoinHandle<void>> hs;
  for (std::size_t i = 0; i < tasks; ++i) hs.push_back(rt.spawn(sleep_loop(c, sleeps, started)));
  started.wait();  // a cancel before the first run would stop a task from starting at all
  for (std::size_t k = 0; k < tasks * sleeps * 4; ++k) {
    hs[k % tasks].cancel();
    if (c.child_body.load() + c.child_cancelled.load() == tasks * sleeps) break;
  }
  auto join_all = [](std::vector<weft::JoinHandle<void>>& hs) -> weft::Task<void> {
    for (auto& h : hs) co_await h;
  };
  rt.block_on(join_all(hs));
  EXPECT_EQ(c.child_body.load() + c.child_cancelled.load(), tasks * sleeps);
  EXPECT_EQ(rt.live_tasks(), 0u);
}

// ---- cancellation racing a wake-up from another worker ----------------------------------

// `middle` awaits `leaf`'s handle; `leaf` finishes (on whichever worker runs it) while a
// killer cancels `middle`. The cancellation is forwarded to `leaf`, which may already be
// completing and claiming `middle`'s wait: exactly one of them resumes `middle`.
weft::Task<int> middle(std::size_t i, Counters& c) {
  weft::JoinHandle<int> leaf = weft::spawn(finish_after_yields(i % 3, c));
  co_return co_await leaf;
}

weft::Task<void> cancel_vs_remote_wake(std::size_t i, Counters& c) {
  c.iterations.fetch_add(1);
  weft::JoinHandle<int> mid = weft::spawn(middle(i, c));
  weft::JoinHandle<void> killer = weft::spawn(cancel_after_yields(mid, (i / 3) % 4));
  try {
    c.values.fetch_add(static_cast<std::size_t>(co_await mid));
  } catch (const weft::CancelledError&) {
    c.cancelled.fetch_add(1);
  } catch (...) {
    c.other.fetch_add(1);
  }
  c.resumed.fetch_add(1);
  co_await killer;
}

TEST(CancelRace, CancellationRacingAWakeUpFromAnotherWorkerResumesTheAwaiterOnceOnTwoWorkers) {
  run_race(2, weft::test::scaled(20'000, 64), cancel_vs_remote_wake);
}

TEST(CancelRace, CancellationRacingAWakeUpFromAnotherWorkerResumesTheAwaiterOnceOnFourWorkers) {
  run_race(4, weft::test::scaled(20'000, 64), cancel_vs_remote_wake);
}

// The same, one level deeper and with the killer cancelling the outermost task: the
// cancellation is forwarded twice while the leaf completes.
weft::Task<int> top(std::size_t i, Counters& c) {
  weft::JoinHandle<int> mid = weft::spawn(middle(i, c));
  co_return co_await mid;
}

weft::Task<void> cancel_chain_vs_remote_wake(std::size_t i, Counters& c) {
  c.iterations.fetch_add(1);
  weft::JoinHandle<int> t = weft::spawn(top(i, c));
  weft::JoinHandle<void> killer = weft::spawn(cancel_after_yields(t, (i / 3) % 5));
  try {
    c.values.fetch_add(static_cast<std::size_t>(co_await t));
  } catch (const weft::CancelledError&) {
    c.cancelled.fetch_add(1);
  } catch (...) {
    c.other.fetch_add(1);
  }
  c.resumed.fetch_add(1);
  co_await killer;
}

TEST(CancelRace, ForwardedCancellationRacingAWakeUpDownAChainResumesEachAwaiterOnce) {
  run_race(4, weft::test::scaled(10'000, 64), cancel_chain_vs_remote_wake);
}

// ---- cancellation from a plain thread racing completion ---------------------------------

TEST(CancelRace, CancellationsFromAPlainThreadRacingCompletionEndEveryTaskOnce) {
  const std::size_t n = weft::test::scaled(20'000, 100);
  Counters c;
  weft::Runtime rt({.workers = 2});
  std::vector<weft::JoinHandle<int>> hs;
  hs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    hs.push_back(rt.spawn(finish_after_yields(i % 4, c)));
    if (i % 2 == 0) hs[i / 2].cancel();  // cancels lag behind the spawns
  }
  for (std::size_t i = n / 2; i < n; i += 2) hs[i].cancel();
  auto join_all = [](std::vector<weft::JoinHandle<int>>& hs, Counters& c) -> weft::Task<void> {
    for (auto& h : hs) {
      try {
        c.values.fetch_add(static_cast<std::size_t>(co_await h));
      } catch (const weft::CancelledError&) {
        c.cancelled.fetch_add(1);
      } catch (...) {
        c.other.fetch_add(1);
      }
      c.resumed.fetch_add(1);
      // Yield now and then, so the loop also exercises the scheduler between awaits.
      if (c.iterations.fetch_add(1) % 64 == 63) co_await weft::yield_now();
    }
  };
  rt.block_on(join_all(hs, c));
  c.expect_consistent(n);
  EXPECT_EQ(c.values.load(), c.child_body.load());
  EXPECT_EQ(rt.live_tasks(), 0u);
}

}  // namespace
