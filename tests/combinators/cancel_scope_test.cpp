// The cancel scopes: wait_for, timeout and timeout_at (asyncio.wait_for / asyncio.timeout /
// asyncio.timeout_at) and shield (asyncio.shield). A deadline cancels the body, waits for
// what it awaits to finish, and turns into TimeoutError at its own boundary only; an outer
// cancellation stays CancelledError; a shield holds cancellation back until its awaitable
// has finished; a value that arrived is never traded for a TimeoutError.
//
// Every runtime runs on the virtual clock, so deadlines pass without real waiting and the
// virtual time at which a scope ends is compared exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
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
