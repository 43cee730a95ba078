// The cancel scopes: wait_for, timeout and timeout_at (asyncio.wait_for / asyncio.timeout /
// asyncio.timeout_at) and shield (asyncio.shield). A deadline cancels the body, waits for
// what it awaits to finish, and turns into TimeoutError at its own boundary only; an outer
// cancellation stays CancelledError; a shield holds cancellation back until its awaitable
// has finished; a value that arrived is never traded for a TimeoutError; every kind of weft
// awaitable may be put under each scope, and a timed-out one loses nothing.
//
// Every runtime runs on the virtual clock, so deadlines pass without real waiting and the
// virtual time at which a scope ends is compared exactly.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <coroutine>
#include <csignal>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

weft::RuntimeOptions virtual_clock(std::size_t workers) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

weft::Task<int> value_after(weft::Duration d, int v) {
  co_await weft::sleep(d);
  co_return v;
}

weft::Task<int> value_at_once(int v) {
  co_return v;
}

/// What happened inside a scope's body, in order, with the virtual time of each event.
/// Thread-safe: children on other workers add to it too.
struct Events {
  weft::TimePoint start = weft::now();
  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<weft::Duration> at;
  void add(std::string what) {
    std::lock_guard lk(mu);
    seen.push_back(std::move(what));
    at.push_back(weft::now() - start);
  }
};

/// Sleeps for an hour; records a cancellation (as "<who> cancelled") and rethrows it.
weft::Task<int> sleep_an_hour(Events& ev, std::string who) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add(who + " cancelled");
    throw;
  } catch (const weft::TimeoutError&) {
    ev.add(who + " saw TimeoutError");
    throw;
  }
  ev.add(who + " finished");
  co_return 0;
}

/// Sleeps for an hour; once cancelled, takes one more second to clean up, then rethrows.
weft::Task<int> sleep_an_hour_with_slow_cleanup(Events& ev) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add("child cancelled");
  }
  co_await weft::sleep(1s);
  ev.add("child cleaned up");
  throw weft::CancelledError();
}

// ---- wait_for ---------------------------------------------------------------------------

TEST(WaitFor, RaisesTimeoutErrorAfterTheDurationOnceTheBodyWasCancelled) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    std::string message;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::wait_for(sleep_an_hour(ev, "body"), 1s);
          } catch (const weft::TimeoutError& e) {
            message = e.what();
            ev.add("TimeoutError");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "TimeoutError"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s}));
    EXPECT_NE(message.find("weft::wait_for"), std::string::npos) << message;
    EXPECT_NE(message.find("timed out"), std::string::npos) << message;
  }
}

TEST(WaitFor, OnAJoinHandleCancelsTheTaskAndWaitsForItBeforeRaisingTimeoutError) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    std::size_t live_at_timeout = 0;
    weft::Runtime rt(virtual_clock(workers));
    rt.block_on([&]() -> weft::Task<void> {
      ev.start = weft::now();
      weft::JoinHandle<int> h = weft::spawn(sleep_an_hour_with_slow_cleanup(ev));
      try {
        co_await weft::wait_for(std::move(h), 1s);
      } catch (const weft::TimeoutError&) {
        ev.add("TimeoutError");
        live_at_timeout = rt.live_tasks();
      }
    }());
    EXPECT_EQ(ev.seen,
              (std::vector<std::string>{"child cancelled", "child cleaned up", "TimeoutError"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 2s, 2s}));
    EXPECT_EQ(live_at_timeout, 1u) << "the child had finished";
  }
}

TEST(WaitFor, ReturnsTheValueWhenTheBodyFinishesInTimeAndDisarmsItsDeadline) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          int v = co_await weft::wait_for(value_after(1s, 5), 2s);
          ev.add("value " + std::to_string(v));
          co_await weft::sleep(5s);  // past the old deadline: nothing may cancel it
          ev.add("slept");
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"value 5", "slept"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 6s}));
  }
}

TEST(WaitFor, OnAJoinHandleThatFinishesInTimeReturnsItsValue) {
  int v = weft::run(
      []() -> weft::Task<int> {
        weft::JoinHandle<int> h = weft::spawn(value_after(1s, 11));
        co_return co_await weft::wait_for(std::move(h), 2s);
      }(),
      virtual_clock(2));
  EXPECT_EQ(v, 11);
}

TEST(WaitFor, WithAZeroDurationReturnsTheValueOfABodyThatNeverSuspends) {
  int v = weft::run(
      []() -> weft::Task<int> { co_return co_await weft::wait_for(value_at_once(3), 0s); }(),
      virtual_clock(1));
  EXPECT_EQ(v, 3);
}

TEST(WaitFor, WithAZeroDurationTimesOutAtTheBodysFirstAwait) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::wait_for(sleep_an_hour(ev, "body"), 0s);
        } catch (const weft::TimeoutError&) {
          ev.add("TimeoutError");
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "TimeoutError"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{0s, 0s}));
}

TEST(WaitFor, WithTheLongestDurationDoesNotOverflow) {
  int v = weft::run(
      []() -> weft::Task<int> {
        co_return co_await weft::wait_for(value_after(1s, 4), std::chrono::hours::max());
      }(),
      virtual_clock(1));
  EXPECT_EQ(v, 4);
}

/// A body that swallows its cancellation and returns a value instead.
weft::Task<int> swallow_cancellation(Events& ev) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add("body cancelled");
    co_return 99;
  }
  co_return 0;
}

TEST(WaitFor, ReturnsTheValueOfABodyThatSwallowedItsCancellation) {
  Events ev;
  int v = weft::run(
      [&]() -> weft::Task<int> {
        ev.start = weft::now();
        co_return co_await weft::wait_for(swallow_cancellation(ev), 1s);
      }(),
      virtual_clock(1));
  EXPECT_EQ(v, 99);
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled"}));
}

TEST(WaitFor, ThrowsInvalidArgumentForANegativeOrNaNDuration) {
  weft::run(
      []() -> weft::Task<void> {
        std::string negative;
        std::string nan;
        try {
          (void)weft::wait_for(value_after(1s, 1), -1s);
        } catch (const std::invalid_argument& e) {
          negative = e.what();
        }
        try {
          (void)weft::wait_for(value_after(1s, 1), std::chrono::duration<double>(std::nan("")));
        } catch (const std::invalid_argument& e) {
          nan = e.what();
        }
        EXPECT_NE(negative.find("negative"), std::string::npos) << negative;
        EXPECT_NE(nan.find("NaN"), std::string::npos) << nan;
        EXPECT_THROW((void)weft::timeout(-1ms, value_after(1s, 1)), std::invalid_argument);
        EXPECT_THROW(
            (void)weft::timeout(std::chrono::duration<double>(std::nan("")), value_after(1s, 1)),
            std::invalid_argument);
        co_return;
      }(),
      virtual_clock(1));
}

// ---- timeout and timeout_at ---------------------------------------------------------------

TEST(Timeout, RaisesTimeoutErrorAtTheDeadline) {
  Events ev;
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::timeout(1500ms, sleep_an_hour(ev, "body"));
        } catch (const weft::TimeoutError& e) {
          message = e.what();
          ev.add("TimeoutError");
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "TimeoutError"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1500ms, 1500ms}));
  EXPECT_NE(message.find("weft::timeout"), std::string::npos) << message;
}

TEST(Timeout, ReturnsTheValueWhenTheBodyFinishesInTime) {
  int v = weft::run(
      []() -> weft::Task<int> { co_return co_await weft::timeout(2s, value_after(1s, 8)); }(),
      virtual_clock(2));
  EXPECT_EQ(v, 8);
}

TEST(TimeoutAt, RaisesTimeoutErrorAtTheAbsoluteDeadline) {
  Events ev;
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::timeout_at(ev.start + 2500ms, sleep_an_hour(ev, "body"));
        } catch (const weft::TimeoutError& e) {
          message = e.what();
          ev.add("TimeoutError");
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "TimeoutError"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{2500ms, 2500ms}));
  EXPECT_NE(message.find("weft::timeout_at"), std::string::npos) << message;
}

TEST(TimeoutAt, ReturnsTheValueWhenTheBodyFinishesBeforeTheDeadline) {
  int v = weft::run(
      []() -> weft::Task<int> {
        co_return co_await weft::timeout_at(weft::now() + 2s, value_after(1s, 9));
      }(),
      virtual_clock(1));
  EXPECT_EQ(v, 9);
}

TEST(TimeoutAt, WithADeadlineInThePastTimesOutAtTheBodysFirstAwait) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        co_await weft::sleep(10s);
        ev.start = weft::now();
        try {
          co_await weft::timeout_at(ev.start - 5s, sleep_an_hour(ev, "body"));
        } catch (const weft::TimeoutError&) {
          ev.add("TimeoutError");
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "TimeoutError"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{0s, 0s}));
}

// A deadline that has passed when the scope opens cancels the body's first await, whatever
// the timer wheel's granularity: on the real clock "now" lies between two ticks, and a timer
// for it would only fire at the next one, after a yield_now had long returned. (On the
// virtual clock, a worker whose wheel lagged the clock showed the same race.)
TEST(Timeout, ADeadlineAlreadyPassedCancelsTheFirstAwaitBetweenClockTicks) {
  weft::run(
      []() -> weft::Task<void> {
        for (int i = 0; i < 20; ++i) {
          EXPECT_THROW(co_await weft::timeout(0s, weft::yield_now()), weft::TimeoutError);
          EXPECT_THROW(co_await weft::wait_for(weft::yield_now(), 0s), weft::TimeoutError);
          EXPECT_THROW(co_await weft::timeout_at(weft::now() - 1ms, weft::yield_now()),
                       weft::TimeoutError);
        }
      }(),
      weft::RuntimeOptions{.workers = 1});
}

// ---- nesting ----------------------------------------------------------------------------

/// An inner wait_for that expires, caught; then the body carries on under the outer scope.
weft::Task<int> inner_times_out_then_carries_on(Events& ev) {
  try {
    co_await weft::wait_for(sleep_an_hour(ev, "innermost"), 1s);
  } catch (const weft::TimeoutError&) {
    ev.add("inner TimeoutError");
  } catch (const weft::CancelledError&) {
    ev.add("inner CancelledError");
  }
  co_await weft::sleep(1s);
  ev.add("carried on");
  co_return 42;
}

TEST(NestedTimeouts, TheInnerExpiringRaisesTimeoutErrorAtTheInnerBoundaryOnly) {
  for (std::size_t workers : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    int v = weft::run(
        [&]() -> weft::Task<int> {
          ev.start = weft::now();
          co_return co_await weft::timeout(5s, inner_times_out_then_carries_on(ev));
        }(),
        virtual_clock(workers));
    EXPECT_EQ(v, 42);
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"innermost cancelled", "inner TimeoutError",
                                                 "carried on"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 2s}));
  }
}

TEST(NestedTimeouts, AnUncaughtInnerTimeoutErrorPassesTheOuterScopeUnchanged) {
  Events ev;
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::timeout(5s, weft::wait_for(sleep_an_hour(ev, "innermost"), 1s));
        } catch (const weft::TimeoutError& e) {
          message = e.what();
          ev.add("TimeoutError");
        }
        co_await weft::sleep(10s);  // neither deadline may fire later
        ev.add("slept");
      }(),
      virtual_clock(1));
  EXPECT_NE(message.find("weft::wait_for"), std::string::npos) << message;
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"innermost cancelled", "TimeoutError", "slept"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 11s}));
}

/// An inner wait_for with a far deadline; records what crossed its boundary.
weft::Task<void> inner_scope_with_far_deadline(Events& ev) {
  try {
    co_await weft::wait_for(sleep_an_hour(ev, "innermost"), 5s);
  } catch (const weft::TimeoutError&) {
    ev.add("inner boundary: TimeoutError");
    throw;
  } catch (const weft::CancelledError&) {
    ev.add("inner boundary: CancelledError");
    throw;
  }
}

TEST(NestedTimeouts, TheOuterExpiringRaisesTimeoutErrorOutsideAndCancelledErrorInside) {
  for (std::size_t workers : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    std::string message;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::timeout(1s, inner_scope_with_far_deadline(ev));
          } catch (const weft::TimeoutError& e) {
            message = e.what();
            ev.add("outer boundary: TimeoutError");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen,
              (std::vector<std::string>{"innermost cancelled", "inner boundary: CancelledError",
                                        "outer boundary: TimeoutError"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 1s}));
    EXPECT_NE(message.find("weft::timeout"), std::string::npos) << message;
  }
}

/// Catches the CancelledError of an outer deadline, times out an inner wait_for while it
/// cleans up (as a database client drains a cancelled query under a bound), then lets the
/// CancelledError go on.
weft::Task<void> cleanup_under_its_own_timeout_then_rethrow(Events& ev) {
  std::exception_ptr cancelled;
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add("body cancelled");
    cancelled = std::current_exception();
  }
  try {
    co_await weft::wait_for(weft::sleep(1h), 1s);
  } catch (const weft::TimeoutError&) {
    ev.add("cleanup TimeoutError");
  } catch (const weft::CancelledError&) {
    ev.add("cleanup CancelledError");
  }
  std::rethrow_exception(cancelled);
}

TEST(NestedTimeouts, AnInnerTimeoutDuringCleanupLeavesTheOuterDeadlineATimeoutError) {
  for (std::size_t workers : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::wait_for(cleanup_under_its_own_timeout_then_rethrow(ev), 5s);
          } catch (const weft::TimeoutError&) {
            ev.add("outer TimeoutError");
          } catch (const weft::CancelledError&) {
            ev.add("outer CancelledError");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "cleanup TimeoutError",
                                                 "outer TimeoutError"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{5s, 6s, 6s}));
  }
}

// ---- outer cancellation -------------------------------------------------------------------

/// wait_for with a far deadline; records what crossed its boundary.
weft::Task<void> wait_for_with_far_deadline(Events& ev) {
  try {
    co_await weft::wait_for(sleep_an_hour(ev, "body"), 5s);
  } catch (const weft::TimeoutError&) {
    ev.add("TimeoutError");
    throw;
  } catch (const weft::CancelledError&) {
    ev.add("CancelledError");
    throw;
  }
}

TEST(WaitFor, AnOuterCancelDuringItRaisesCancelledErrorNotTimeoutError) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          weft::JoinHandle<void> h = weft::spawn(wait_for_with_far_deadline(ev));
          co_await weft::sleep(1s);
          h.cancel();
          EXPECT_THROW(co_await h, weft::CancelledError);
          co_await weft::sleep(10s);  // the disarmed deadline stays quiet
          ev.add("slept");
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "CancelledError", "slept"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 11s}));
  }
}

// ---- shield -------------------------------------------------------------------------------

/// Awaits a shielded one-second sleep, then one more await; records what each gave.
weft::Task<void> shielded_then_await(Events& ev) {
  int v = co_await weft::shield(value_after(1s, 7));
  ev.add("shield returned " + std::to_string(v));
  try {
    co_await weft::yield_now();
    ev.add("next await returned");
  } catch (const weft::CancelledError&) {
    ev.add("next await cancelled");
    throw;
  }
}

TEST(Shield, HoldsACancelBackUntilItsAwaitableFinishedThenTheNextAwaitRaises) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          weft::JoinHandle<void> h = weft::spawn(shielded_then_await(ev));
          co_await weft::sleep(500ms);
          h.cancel();
          EXPECT_THROW(co_await h, weft::CancelledError);
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"shield returned 7", "next await cancelled"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s}));
  }
}

/// Awaits a shielded JoinHandle, then one more await; records what each gave.
weft::Task<void> shielded_handle(weft::JoinHandle<int> h, Events& ev) {
  int v = co_await weft::shield(std::move(h));
  ev.add("shield returned " + std::to_string(v));
  try {
    co_await weft::yield_now();
  } catch (const weft::CancelledError&) {
    ev.add("next await cancelled");
    throw;
  }
}

TEST(Shield, OfAJoinHandleDoesNotPassTheCancelOnToTheTask) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        weft::JoinHandle<int> child = weft::spawn(value_after(2s, 3));
        weft::JoinHandle<void> h = weft::spawn(shielded_handle(std::move(child), ev));
        co_await weft::sleep(1s);
        h.cancel();
        bool cancelled = false;
        try {
          co_await h;
        } catch (const weft::CancelledError&) {
          cancelled = true;
        }
        ev.add(cancelled ? "cancelled" : "not cancelled");
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.seen,
            (std::vector<std::string>{"shield returned 3", "next await cancelled", "cancelled"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{2s, 2s, 2s}));
}

TEST(Shield, InsideATimeoutLetsTheShieldedWorkFinishAndReturnsItsValue) {
  Events ev;
  int v = weft::run(
      [&]() -> weft::Task<int> {
        ev.start = weft::now();
        int r = co_await weft::timeout(1s, weft::shield(value_after(2s, 9)));
        ev.add("scope returned");
        co_await weft::sleep(1s);  // the expired scope's request does not outlive it
        ev.add("slept");
        co_return r;
      }(),
      virtual_clock(1));
  EXPECT_EQ(v, 9);
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"scope returned", "slept"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{2s, 3s}));
}

/// Sleeps `d`, then throws std::runtime_error("shielded work failed").
weft::Task<int> fail_after(weft::Duration d) {
  co_await weft::sleep(d);
  throw std::runtime_error("shielded work failed");
}

// asyncio.wait_for(shield(x), t) raises TimeoutError at t and leaves x running; weft's
// shield holds the deadline's cancellation back until x has finished, and the scope then
// returns x's outcome (the deadline's request dies with the scope).
TEST(Shield, UnderWaitForReturnsWhenTheShieldedWorkFinishesWithItsOutcomeNotAtTheDeadline) {
  for (std::size_t workers : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          int v = co_await weft::wait_for(weft::shield(value_after(3s, 4)), 1s);
          ev.add("value " + std::to_string(v));
          co_await weft::wait_for(weft::shield(weft::sleep(2s)), 1s);
          ev.add("slept");
          try {
            (void)co_await weft::wait_for(weft::shield(fail_after(1s)), 500ms);
          } catch (const std::runtime_error& e) {
            ev.add(e.what());
          }
          co_await weft::sleep(1s);  // no cancellation is left pending
          ev.add("next await returned");
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"value 4", "slept", "shielded work failed",
                                                 "next await returned"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{3s, 5s, 6s, 7s}));
  }
}

weft::Task<int> wait_for_inside_a_shield(Events& ev) {
  try {
    co_await weft::shield(weft::wait_for(sleep_an_hour(ev, "body"), 1s));
  } catch (const weft::TimeoutError&) {
    ev.add("TimeoutError");
  }
  try {
    co_await weft::yield_now();
  } catch (const weft::CancelledError&) {
    ev.add("next await cancelled");
    throw;
  }
  co_return 0;
}

TEST(Shield, ATimeoutInsideTheShieldStillFires) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        weft::JoinHandle<int> h = weft::spawn(wait_for_inside_a_shield(ev));
        co_await weft::sleep(500ms);
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.seen,
            (std::vector<std::string>{"body cancelled", "TimeoutError", "next await cancelled"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 1s}));
}

// ---- a value that arrived is not lost --------------------------------------------------

/// Sleeps one second and returns 5; records that it returned.
weft::Task<int> value_in_one_second(std::atomic<bool>& returned) {
  co_await weft::sleep(1s);
  returned.store(true);
  co_return 5;
}

/// Outcome of a wait_for whose body and deadline end at the same instant.
struct Race {
  std::atomic<bool> child_returned{false};
  std::optional<int> value;
  bool timed_out = false;
};

/// Spawns the child, lets it arm its one-second sleep first, then waits for it for one
/// second: both timers are due at the same tick, the child's first.
weft::Task<void> wait_for_child_due_at_the_deadline(Race& race) {
  weft::JoinHandle<int> h = weft::spawn(value_in_one_second(race.child_returned));
  co_await weft::yield_now();
  try {
    race.value = co_await weft::wait_for(std::move(h), 1s);
  } catch (const weft::TimeoutError&) {
    race.timed_out = true;
  }
}

// The child's sleep is claimed by its timer first; then the scope's timer requests
// cancellation of the parent, whose join wait forwards it to the child (too late: the child
// returns 5 anyway). The join returns the value, and the scope drops its own pending
// cancellation as it closes: the value is not traded for TimeoutError.
TEST(WaitFor, AValueThatArrivedAtTheDeadlineIsReturnedNotTradedForTimeoutError) {
  Race race;
  weft::run(wait_for_child_due_at_the_deadline(race), virtual_clock(1));
  EXPECT_TRUE(race.child_returned.load());
  EXPECT_EQ(race.value, std::optional<int>(5));
  EXPECT_FALSE(race.timed_out);
}

/// Like wait_for_child_due_at_the_deadline, through a gather of the child.
weft::Task<void> wait_for_gather_due_at_the_deadline(Race& race) {
  weft::JoinHandle<int> h = weft::spawn(value_in_one_second(race.child_returned));
  co_await weft::yield_now();
  try {
    auto [v] = co_await weft::wait_for(weft::gather(std::move(h)), 1s);
    race.value = v;
  } catch (const weft::TimeoutError&) {
    race.timed_out = true;
  }
}

// As above, through a gather: every child returned its value, so the gather returns them.
TEST(WaitFor, AGatherWhoseChildrenReturnedAtTheDeadlineGivesTheirValues) {
  Race race;
  weft::run(wait_for_gather_due_at_the_deadline(race), virtual_clock(1));
  EXPECT_TRUE(race.child_returned.load());
  EXPECT_EQ(race.value, std::optional<int>(5));
  EXPECT_FALSE(race.timed_out);
}

// ---- wait_for over gather -----------------------------------------------------------------

TEST(WaitFor, OverAGatherCancelsEveryChildAndWaitsForThemBeforeTimeoutError) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::wait_for(weft::gather(sleep_an_hour_with_slow_cleanup(ev),
                                                 sleep_an_hour_with_slow_cleanup(ev)),
                                    1s);
          } catch (const weft::TimeoutError&) {
            ev.add("TimeoutError");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen,
              (std::vector<std::string>{"child cancelled", "child cancelled", "child cleaned up",
                                        "child cleaned up", "TimeoutError"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 2s, 2s, 2s}));
  }
}

// ---- every weft awaitable under a scope ---------------------------------------------------
//
// wait_for, timeout, timeout_at and shield take any weft awaitable: an rvalue is moved into
// the scope's frame, an lvalue is awaited in place. Each test below puts awaitables of one
// kind under the three deadline scopes with a deadline that passes (TimeoutError at the
// deadline, and nothing the awaitable would have taken is lost), then under wait_for and
// shield where they finish in time (their value). signal::wait is tested the same way in
// tests/io/signal_test.cpp, which blocks the signal in every thread first.

/// Awaits make() under wait_for, timeout and timeout_at, each with a deadline `d` away; each
/// must raise TimeoutError at its deadline.
template <class Make>
weft::Task<void> times_out_under_every_scope(Make make, weft::Duration d = 1s) {
  weft::TimePoint start = weft::now();
  EXPECT_THROW((void)co_await weft::wait_for(make(), d), weft::TimeoutError);
  EXPECT_EQ(weft::now() - start, d) << "wait_for";
  start = weft::now();
  EXPECT_THROW((void)co_await weft::timeout(d, make()), weft::TimeoutError);
  EXPECT_EQ(weft::now() - start, d) << "timeout";
  start = weft::now();
  EXPECT_THROW((void)co_await weft::timeout_at(start + d, make()), weft::TimeoutError);
  EXPECT_EQ(weft::now() - start, d) << "timeout_at";
}

/// Sleeps for an hour; counts a cancellation.
weft::Task<int> an_hour_counting(std::atomic<int>& cancelled) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    cancelled.fetch_add(1);
    throw;
  }
  co_return 0;
}

TEST(AnyAwaitable, SleepSleepUntilAndYieldNowTimeOutUnderEveryScopeOrEndAtTheirTime) {
  weft::run(
      []() -> weft::Task<void> {
        co_await times_out_under_every_scope([] { return weft::sleep(1h); });
        co_await times_out_under_every_scope([] { return weft::sleep_until(weft::now() + 1h); });
        co_await times_out_under_every_scope([] { return weft::yield_now(); }, 0s);
        const weft::TimePoint start = weft::now();
        co_await weft::wait_for(weft::sleep(1s), 2s);
        EXPECT_EQ(weft::now() - start, 1s);
        co_await weft::timeout_at(start + 3s, weft::sleep_until(start + 2s));
        EXPECT_EQ(weft::now() - start, 2s);
        co_await weft::shield(weft::sleep(1s));
        EXPECT_EQ(weft::now() - start, 3s);
        auto named = weft::sleep(1s);  // an lvalue: awaited in place
        co_await weft::wait_for(named, 2s);
        EXPECT_EQ(weft::now() - start, 4s);
        co_await weft::wait_for(weft::yield_now(), 1s);
        co_await weft::shield(weft::yield_now());
        co_await weft::sleep(5s);  // none of the disarmed deadlines fires
        EXPECT_EQ(weft::now() - start, 9s);
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, TasksAndJoinHandlesAreCancelledAndAwaitedAtTheDeadlineOrGiveTheirValue) {
  std::atomic<int> cancelled{0};
  weft::run(
      [&]() -> weft::Task<void> {
        co_await times_out_under_every_scope([&] { return an_hour_counting(cancelled); });
        EXPECT_EQ(cancelled.load(), 3);
        co_await times_out_under_every_scope(
            [&] { return weft::spawn(an_hour_counting(cancelled)); });
        EXPECT_EQ(cancelled.load(), 6) << "each task was cancelled and had finished";
        weft::JoinHandle<int> named = weft::spawn(an_hour_counting(cancelled));
        EXPECT_THROW(co_await weft::wait_for(named, 1s), weft::TimeoutError);
        EXPECT_TRUE(named.done());
        EXPECT_EQ(cancelled.load(), 7);

        EXPECT_EQ(co_await weft::wait_for(value_after(1s, 5), 2s), 5);
        weft::JoinHandle<int> in_time = weft::spawn(value_after(1s, 6));
        EXPECT_EQ(co_await weft::wait_for(in_time, 2s), 6);
        EXPECT_EQ(co_await weft::shield(weft::spawn(value_after(1s, 7))), 7);
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, GatherAndGatherSettledCancelTheirChildrenAtTheDeadlineOrGiveTheirValues) {
  std::atomic<int> cancelled{0};
  weft::run(
      [&]() -> weft::Task<void> {
        co_await times_out_under_every_scope(
            [&] { return weft::gather(an_hour_counting(cancelled), an_hour_counting(cancelled)); });
        EXPECT_EQ(cancelled.load(), 6);
        co_await times_out_under_every_scope(
            [&] { return weft::gather_settled(an_hour_counting(cancelled), value_at_once(1)); });
        EXPECT_EQ(cancelled.load(), 9);

        auto [a, b] =
            co_await weft::wait_for(weft::gather(value_after(1s, 1), value_at_once(2)), 2s);
        EXPECT_EQ(a + b, 3);
        auto [c, d] =
            co_await weft::shield(weft::gather_settled(value_after(1s, 3), value_at_once(4)));
        EXPECT_EQ(c.value() + d.value(), 7);
      }(),
      virtual_clock(2));
}

/// Sleeps `d`, then records that it finished.
weft::Task<int> finish_after(weft::Duration d, std::atomic<int>& finished) {
  co_await weft::sleep(d);
  finished.fetch_add(1);
  co_return 1;
}

/// One handle of finish_after(d).
std::vector<weft::JoinHandle<int>> one_finishing_after(weft::Duration d,
                                                       std::atomic<int>& finished) {
  std::vector<weft::JoinHandle<int>> hs;
  hs.push_back(weft::spawn(finish_after(d, finished)));
  return hs;
}

// Neither wait nor as_completed cancels the tasks it watches: a timeout ends the watch, the
// tasks run on (their handles are dropped with the watch).
TEST(AnyAwaitable, WaitAndAsCompletedNextTimeOutWithoutCancellingTheirTasksOrReturnInTime) {
  std::atomic<int> finished{0};
  weft::run(
      [&]() -> weft::Task<void> {
        const weft::TimePoint start = weft::now();
        co_await times_out_under_every_scope(
            [&] { return weft::wait(one_finishing_after(10s, finished)); });
        std::vector<weft::AsyncGenerator<weft::JoinHandle<int>>> gens;
        co_await times_out_under_every_scope([&] {
          gens.push_back(weft::as_completed(one_finishing_after(10s, finished)));
          return gens.back().next();
        });
        EXPECT_EQ(weft::now() - start, 6s);
        co_await weft::sleep(10s);
        EXPECT_EQ(finished.load(), 6) << "every watched task ran to its end";

        weft::WaitSets<int> sets =
            co_await weft::wait_for(weft::wait(one_finishing_after(1s, finished)), 2s);
        EXPECT_EQ(sets.done.size(), 1u);
        weft::AsyncGenerator<weft::JoinHandle<int>> gen =
            weft::as_completed(one_finishing_after(1s, finished));
        std::optional<weft::JoinHandle<int>> next = co_await weft::wait_for(gen.next(), 2s);
        EXPECT_TRUE(next.has_value());
        if (next) {
          EXPECT_EQ(co_await *next, 1);
        }
        EXPECT_FALSE(co_await weft::shield(gen.next())) << "the generator has ended";
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, TaskGroupCancelsAndAwaitsItsChildrenAtTheDeadlineOrReturnsInTime) {
  std::atomic<int> cancelled{0};
  std::atomic<int> finished{0};
  weft::run(
      [&]() -> weft::Task<void> {
        auto stuck = [&](weft::TaskGroup& tg) -> weft::Task<void> {
          tg.spawn(an_hour_counting(cancelled));
          co_return;
        };
        co_await times_out_under_every_scope([&] { return weft::task_group(stuck); });
        EXPECT_EQ(cancelled.load(), 3);
        auto quick = [&](weft::TaskGroup& tg) -> weft::Task<void> {
          tg.spawn(finish_after(1s, finished));
          co_return;
        };
        co_await weft::wait_for(weft::task_group(quick), 2s);
        co_await weft::shield(weft::task_group(quick));
        EXPECT_EQ(finished.load(), 2);
      }(),
      virtual_clock(2));
}

// A running function cannot be interrupted and the virtual clock holds still while it runs,
// so the deadlines that pass are already due when the function would start: it never does.
TEST(AnyAwaitable, ToThreadAndOffloadNeverStartUnderAnExpiredDeadlineAndReturnInTime) {
  std::atomic<int> runs{0};
  weft::run(
      [&]() -> weft::Task<void> {
        auto f = [&runs] {
          runs.fetch_add(1);
          return 7;
        };
        co_await times_out_under_every_scope([&] { return weft::to_thread(f); }, 0s);
        co_await times_out_under_every_scope([&] { return weft::offload(f); }, 0s);
        EXPECT_EQ(runs.load(), 0);
        EXPECT_EQ(co_await weft::wait_for(weft::to_thread(f), 1s), 7);
        EXPECT_EQ(co_await weft::wait_for(weft::offload(f), 1s), 7);
        EXPECT_EQ(co_await weft::shield(weft::to_thread(f)), 7);
        EXPECT_EQ(runs.load(), 3);
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, MutexLockAndSemaphoreAcquireTimeOutTakingNothingOrGiveTheirGuard) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Mutex m;
        {
          weft::MutexGuard held = co_await m.lock();
          co_await times_out_under_every_scope([&] { return m.lock(); });
        }
        EXPECT_FALSE(m.locked()) << "a timed-out lock was handed the mutex";
        {
          weft::MutexGuard g = co_await weft::wait_for(m.lock(), 1s);
          EXPECT_TRUE(g.owns_lock());
        }
        {
          weft::MutexGuard g = co_await weft::shield(m.lock());
          EXPECT_TRUE(g.owns_lock());
        }

        weft::Semaphore s(0);
        co_await times_out_under_every_scope([&] { return s.acquire(); });
        s.release();
        EXPECT_EQ(s.value(), 1) << "a timed-out acquire took the permit";
        {
          weft::SemaphoreGuard g = co_await weft::wait_for(s.acquire(), 1s);
          EXPECT_EQ(s.value(), 0);
        }
        {
          weft::SemaphoreGuard g = co_await weft::shield(s.acquire());
          EXPECT_EQ(s.value(), 0);
        }
        EXPECT_EQ(s.value(), 1);
      }(),
      virtual_clock(2));
}

/// Sleeps `d`, then notifies `c` under its mutex.
weft::Task<void> notify_after(weft::Condition& c, weft::Duration d) {
  co_await weft::sleep(d);
  weft::MutexGuard g = co_await c.lock();
  c.notify();
}

/// Sleeps `d`, then waits at `b`; the arrival index.
weft::Task<std::ptrdiff_t> arrive_after(weft::Barrier& b, weft::Duration d) {
  co_await weft::sleep(d);
  co_return co_await b.wait();
}

TEST(AnyAwaitable, EventConditionBarrierAndLatchWaitsTimeOutLeavingNoTraceOrReturnInTime) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Event e;
        co_await times_out_under_every_scope([&] { return e.wait(); });
        e.set();
        co_await weft::wait_for(e.wait(), 1s);
        co_await weft::shield(e.wait());

        weft::Condition c;
        weft::MutexGuard g = co_await c.lock();
        co_await times_out_under_every_scope([&] { return c.wait(g); });
        EXPECT_TRUE(g.owns_lock() && c.locked()) << "a timed-out wait took the mutex back";
        weft::TimePoint start = weft::now();
        weft::JoinHandle<void> notifier = weft::spawn(notify_after(c, 1s));
        co_await weft::wait_for(c.wait(g), 2s);
        EXPECT_EQ(weft::now() - start, 1s);
        weft::JoinHandle<void> second = weft::spawn(notify_after(c, 1s));
        co_await weft::shield(c.wait(g));
        EXPECT_TRUE(g.owns_lock());
        g.unlock();
        co_await notifier;
        co_await second;

        weft::Barrier b(2);
        co_await times_out_under_every_scope([&] { return b.wait(); });
        EXPECT_EQ(b.n_waiting(), 0) << "a timed-out task still counts as arrived";
        weft::JoinHandle<std::ptrdiff_t> other = weft::spawn(arrive_after(b, 1s));
        std::ptrdiff_t mine = co_await weft::wait_for(b.wait(), 2s);
        EXPECT_EQ(mine + co_await other, 1) << "arrival indices 0 and 1";
        other = weft::spawn(arrive_after(b, 1s));
        mine = co_await weft::shield(b.wait());
        EXPECT_EQ(mine + co_await other, 1);

        weft::Latch l(1);
        co_await times_out_under_every_scope([&] { return l.wait(); });
        EXPECT_EQ(l.count(), 1);
        l.count_down();
        co_await weft::wait_for(l.wait(), 1s);
        co_await weft::shield(l.wait());
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, QueuePutAndGetAndChannelReceivesTimeOutLosingNoItemOrGiveTheItem) {
  weft::run(
      []() -> weft::Task<void> {
        weft::Queue<int> q(1);
        co_await times_out_under_every_scope([&] { return q.get(); });
        q.put_nowait(5);
        EXPECT_EQ(q.qsize(), 1u) << "a timed-out get took the item";
        co_await times_out_under_every_scope([&] { return q.put(6); });
        EXPECT_EQ(q.qsize(), 1u) << "a timed-out put added its item";
        EXPECT_EQ(co_await weft::wait_for(q.get(), 1s), 5);
        co_await weft::wait_for(q.put(7), 1s);
        EXPECT_EQ(co_await weft::shield(q.get()), 7);
        co_await weft::shield(q.put(8));
        EXPECT_EQ(q.get_nowait(), 8);

        auto one = weft::oneshot<int>();
        weft::OneshotReceiver<int>& rx = one.second;
        co_await times_out_under_every_scope([&] { return rx.recv(); });
        one.first.send(9);
        EXPECT_EQ(co_await weft::wait_for(rx.recv(), 1s), 9);
        auto two = weft::oneshot<int>();
        two.first.send(10);
        EXPECT_EQ(co_await weft::shield(two.second.recv()), 10);

        weft::BroadcastSender<int> tx = weft::broadcast<int>(4);
        weft::BroadcastReceiver<int> sub = tx.subscribe();
        co_await times_out_under_every_scope([&] { return sub.recv(); });
        tx.send(11);
        EXPECT_EQ(co_await weft::wait_for(sub.recv(), 1s), 11);
        tx.send(12);
        EXPECT_EQ(co_await weft::shield(sub.recv()), 12);
      }(),
      virtual_clock(2));
}

TEST(AnyAwaitable, SocketReadinessAndReadsTimeOutLosingNoByteOrReturnInTime) {
  weft::run(
      []() -> weft::Task<void> {
        auto pair = weft::net::UnixStream::pair();
        weft::net::UnixStream& a = pair.first;
        weft::net::UnixStream& b = pair.second;
        std::array<std::byte, 16> buf{};
        EXPECT_FALSE(a.try_read(buf).has_value());  // readable() now waits for the peer
        co_await times_out_under_every_scope([&] { return a.readable(); });
        co_await times_out_under_every_scope([&] { return a.read(buf); });
        co_await b.write_all("hello");
        co_await weft::wait_for(a.readable(), 1s);
        std::size_t n = co_await weft::wait_for(a.read(buf), 1s);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), n), "hello");
        co_await b.write_all("again");
        n = co_await weft::shield(a.read(buf));
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), n), "again");

        std::vector<std::byte> chunk(64 * 1024, std::byte{'x'});
        std::size_t sent = 0;
        while (std::optional<std::size_t> k = a.try_write(chunk)) sent += *k;  // until full
        co_await times_out_under_every_scope([&] { return a.writable(); });
        std::vector<std::byte> got(sent);
        co_await b.read_exact(got);
        EXPECT_FALSE(b.try_read(buf).has_value()) << "every byte written arrived, no more";
        co_await weft::wait_for(a.writable(), 1s);
        co_await weft::shield(a.writable());
      }(),
      virtual_clock(2));
}

// The virtual clock cannot see a child process run: its deadlines pass as soon as every
// worker is idle.
TEST(AnyAwaitable, ChildWaitTimesOutLeavingTheProcessRunningOrGivesItsStatus) {
  weft::run(
      []() -> weft::Task<void> {
        weft::process::Child c = weft::process::Child::spawn({"sleep", "1000"});
        co_await times_out_under_every_scope([&] { return c.wait(); });
        EXPECT_FALSE(c.try_wait().has_value()) << "the process stopped";
        c.kill();
        EXPECT_EQ((co_await c.wait()).signal, SIGKILL);
        EXPECT_EQ((co_await weft::wait_for(c.wait(), 1s)).signal, SIGKILL);  // reaped: at once
        EXPECT_EQ((co_await weft::shield(c.wait())).signal, SIGKILL);
      }(),
      virtual_clock(2));
}

/// An awaiter that cannot be moved (a yield): the scopes await it in place as an lvalue.
struct PinnedYield {
  using Yield = decltype(weft::yield_now());
  PinnedYield() = default;
  PinnedYield(const PinnedYield&) = delete;
  PinnedYield& operator=(const PinnedYield&) = delete;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return inner.await_suspend(h); }
  int await_resume() {
    inner.await_resume();
    return 3;
  }
  Yield inner;
};

TEST(AnyAwaitable, AnAwaiterThatCannotMoveIsAwaitedInPlaceWhenPassedAsAnLvalue) {
  int v = weft::run(
      []() -> weft::Task<int> {
        PinnedYield first;
        int a = co_await weft::wait_for(first, 1s);
        PinnedYield second;
        int b = co_await weft::shield(second);
        PinnedYield third;
        EXPECT_THROW(co_await weft::timeout(0s, third), weft::TimeoutError);
        co_return a + b;
      }(),
      virtual_clock(1));
  EXPECT_EQ(v, 6);
}

// ---- stress -------------------------------------------------------------------------------

/// Finishes after `d` unless cancelled; counts how it ended.
weft::Task<int> counted_sleep(weft::Duration d, std::atomic<int>& returned,
                              std::atomic<int>& cancelled) {
  try {
    co_await weft::sleep(d);
  } catch (const weft::CancelledError&) {
    cancelled.fetch_add(1);
    throw;
  }
  returned.fetch_add(1);
  co_return 1;
}

/// How the tasks of the stress test ended.
struct Counts {
  std::atomic<int> returned{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> values{0};
  std::atomic<int> timeouts{0};
};

/// A 20 ms wait_for around a body of 10-14 ms (odd i) or 30-34 ms (even i).
weft::Task<void> race_a_deadline(int i, Counts& c) {
  weft::Duration body = (i % 2 ? 10ms : 30ms) + (i % 5) * 1ms;
  try {
    int v = co_await weft::wait_for(counted_sleep(body, c.returned, c.cancelled), 20ms);
    c.values.fetch_add(v);
  } catch (const weft::TimeoutError&) {
    c.timeouts.fetch_add(1);
  }
}

TEST(TimeoutStress, ManyTasksWithDeadlinesOnFourWorkersEachEndExactlyOneWay) {
  const int n = static_cast<int>(weft::test::scaled(5'000, 100));
  Counts counts;
  weft::Runtime rt(virtual_clock(4));
  rt.block_on([&]() -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> hs;
    hs.reserve(n);
    for (int i = 0; i < n; ++i) {
      hs.push_back(weft::spawn(race_a_deadline(i, counts)));
    }
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(counts.returned.load() + counts.cancelled.load(), n);
  EXPECT_EQ(counts.values.load(), counts.returned.load());
  EXPECT_EQ(counts.timeouts.load(), counts.cancelled.load());
  EXPECT_EQ(counts.values.load(), n / 2);
}

}  // namespace
