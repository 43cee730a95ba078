// TaskGroup (asyncio.TaskGroup): the group returns only when the body and every child have
// finished; a failure cancels the other children and the body and comes out, with every
// other error, as an ExceptionGroup; children may spawn into the group; cancelling the parent
// cancels the children and waits for them; the handles of tg.spawn can be awaited.
//
// Every runtime runs on the virtual clock, so sleeps end without real waiting and the
// virtual time of each event is compared exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
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

/// A child's own failure, so a test can tell it from anything weft throws.
struct ChildError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What happened, in order, with the virtual time of each event. Thread-safe.
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
  int count(const std::string& what) {
    std::lock_guard lk(mu);
    int n = 0;
    for (const auto& s : seen) n += s == what;
    return n;
  }
};

/// The what() of each exception of an ExceptionGroup, in order.
std::vector<std::string> messages_of(const weft::ExceptionGroup& g) {
  std::vector<std::string> out;
  for (const std::exception_ptr& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      out.push_back(ex.what());
    }
  }
  return out;
}

weft::Task<void> finish_after(weft::Duration d, Events& ev, std::string name) {
  co_await weft::sleep(d);
  ev.add(name + " finished");
}

weft::Task<int> value_after(weft::Duration d, int v) {
  co_await weft::sleep(d);
  co_return v;
}

weft::Task<void> fail_after(weft::Duration d, std::string message) {
  co_await weft::sleep(d);
  throw ChildError(message);
}

/// Sleeps for an hour unless cancelled; records the cancellation and rethrows it.
weft::Task<void> sleep_an_hour(Events& ev, std::string name) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add(name + " cancelled");
    throw;
  }
  ev.add(name + " finished");
}

/// Sleeps for an hour; once cancelled, takes one more second to clean up, then rethrows.
weft::Task<void> sleep_an_hour_with_slow_cleanup(Events& ev, std::string name) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add(name + " cancelled");
  }
  co_await weft::sleep(1s);
  ev.add(name + " cleaned up");
  throw weft::CancelledError();
}

/// Sleeps for an hour; when cancelled, fails with an error of its own.
weft::Task<void> fail_when_cancelled(std::string message) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    throw ChildError(message);
  }
}

// ---- success ------------------------------------------------------------------------------

TEST(TaskGroup, ReturnsOnlyAfterEveryChildFinished) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(finish_after(3s, ev, "c"));
            (void)tg.spawn(finish_after(1s, ev, "a"));
            (void)tg.spawn(finish_after(2s, ev, "b"));
            ev.add("body done");
            co_return;
          });
          ev.add("group returned");
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"body done", "a finished", "b finished",
                                                 "c finished", "group returned"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{0s, 1s, 2s, 3s, 3s}));
  }
}

TEST(TaskGroup, HandlesOfSpawnedChildrenCanBeAwaitedInTheBody) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    int sum = 0;
    weft::run(
        [&]() -> weft::Task<void> {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            weft::JoinHandle<int> a = tg.spawn(value_after(2s, 20));
            weft::JoinHandle<int> b = tg.spawn(value_after(1s, 1));
            sum += co_await b;
            sum += co_await a;
          });
        }(),
        virtual_clock(workers));
    EXPECT_EQ(sum, 21);
  }
}

/// A child that spawns a grandchild into the same group, then finishes at once.
weft::Task<void> spawn_grandchild(weft::TaskGroup& tg, Events& ev) {
  (void)tg.spawn(finish_after(2s, ev, "grandchild"));
  ev.add("child finished");
  co_return;
}

TEST(TaskGroup, ChildrenSpawnedFromChildrenJoinTheGroup) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(spawn_grandchild(tg, ev));
            co_return;
          });
          ev.add("group returned");
        }(),
        virtual_clock(workers));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"child finished", "grandchild finished",
                                                 "group returned"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{0s, 2s, 2s}));
  }
}

TEST(TaskGroup, ASpawnedLambdasCapturesLiveUntilTheChildHasFinished) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          for (char c : {'a', 'b'}) {
            std::string name(100, c);  // on the heap: read after it is gone, ASan reports it
            std::array<int, 512> block{};
            block.fill(2);
            (void)tg.spawn([name, block, &ev]() -> weft::Task<void> {
              co_await weft::sleep(1s);
              int sum = 0;
              for (int v : block) sum += v;
              ev.add(name.substr(0, 1) + " " + std::to_string(sum) + " " +
                     std::to_string(name.size()));
            });
          }
          co_return;
        });
      }(),
      virtual_clock(2));
  std::vector<std::string> seen = ev.seen;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a 1024 100", "b 1024 100"}));
}

TEST(TaskGroup, ACallableThatThrowsBeforeReturningItsTaskFailsTheGroup) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(sleep_an_hour(ev, "a"));
            (void)tg.spawn([]() -> weft::Task<void> { throw ChildError("no task for you"); });
            co_return;
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(errors, (std::vector<std::string>{"no task for you"}));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"a cancelled"}));
}

TEST(TaskGroup, WithNoChildrenReturnsWhenTheBodyReturns) {
  bool returned = false;
  weft::run(
      [&]() -> weft::Task<void> {
        co_await weft::task_group([](weft::TaskGroup&) -> weft::Task<void> { co_return; });
        returned = true;
      }(),
      virtual_clock(1));
  EXPECT_TRUE(returned);
}

TEST(TaskGroup, ActiveCountsTheChildrenStillRunning) {
  std::vector<std::size_t> active;
  weft::run(
      [&]() -> weft::Task<void> {
        Events ev;
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          active.push_back(tg.active());
          (void)tg.spawn(finish_after(1s, ev, "a"));
          (void)tg.spawn(finish_after(2s, ev, "b"));
          active.push_back(tg.active());
          co_await weft::sleep(1500ms);
          active.push_back(tg.active());
          co_await weft::sleep(1s);
          active.push_back(tg.active());
        });
      }(),
      virtual_clock(2));
  EXPECT_EQ(active, (std::vector<std::size_t>{0, 2, 1, 0}));
}

TEST(TaskGroup, CancelCancelsTheChildrenButNotTheBody) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          (void)tg.spawn(sleep_an_hour(ev, "a"));
          (void)tg.spawn(sleep_an_hour(ev, "b"));
          co_await weft::sleep(1s);
          tg.cancel();
          co_await weft::sleep(1s);
          ev.add("body finished");
        });
        ev.add("group returned");
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.count("a cancelled"), 1);
  EXPECT_EQ(ev.count("b cancelled"), 1);
  EXPECT_EQ(ev.seen.size(), 4u);
  EXPECT_EQ(ev.seen[2], "body finished");
  EXPECT_EQ(ev.seen[3], "group returned");
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 2s, 2s}));
}

TEST(TaskGroup, AChildCancelledThroughItsHandleIsNotAnError) {
  Events ev;
  bool returned = false;
  weft::run(
      [&]() -> weft::Task<void> {
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          weft::JoinHandle<void> h = tg.spawn(sleep_an_hour(ev, "a"));
          (void)tg.spawn(finish_after(2s, ev, "b"));
          co_await weft::sleep(1s);
          h.cancel();
        });
        returned = true;
      }(),
      virtual_clock(2));
  EXPECT_TRUE(returned);
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"a cancelled", "b finished"}));
}

TEST(TaskGroup, APlainThreadCanSpawnIntoTheGroup) {
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          co_await weft::to_thread([&] { (void)tg.spawn(finish_after(1s, ev, "from a thread")); });
        });
        ev.add("group returned");
      }(),
      virtual_clock(2));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"from a thread finished", "group returned"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s}));
}

// A task outside the group that still holds `tg` may try to spawn into it after the join
// saw every child finish. The group is closed by that join, under the lock the join counted
// under: had it closed only later (when it collected the errors), a child spawned in
// between would run with a link to a group already destroyed. The hook stops the parent
// right after the join, where such a spawn lands.
namespace late_spawn {
std::atomic<weft::TaskGroup*> group{nullptr};
std::atomic<int> outcome{0};  // 1: refused with UsageError, 2: accepted

weft::Task<void> nothing() {
  co_await weft::sleep(1s);
}

void spawn_after_join(weft::detail::HookPoint p) noexcept {
  if (p != weft::detail::HookPoint::kGroupJoined) return;
  weft::TaskGroup* g = group.exchange(nullptr);
  if (!g) return;
  try {
    (void)g->spawn(nothing());
    outcome = 2;
  } catch (const weft::UsageError& e) {
    outcome = std::string(e.what()).find("after the group has finished") != std::string::npos;
  }
}
}  // namespace late_spawn

TEST(TaskGroupWindow, ASpawnBetweenTheJoinAndTheGroupsEndIsRefused) {
  if (!weft::detail::kHooks) GTEST_SKIP() << "needs a build with WEFT_HOOKS (the sanitizers')";
  late_spawn::outcome = 0;
  weft::detail::set_hook(&late_spawn::spawn_after_join);
  Events ev;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          late_spawn::group = &tg;
          (void)tg.spawn(finish_after(1s, ev, "child"));
          co_return;
        });
        ev.add("group returned");
        co_await weft::sleep(5s);  // a late child, had it been accepted, would finish here
      }(),
      virtual_clock(2));
  weft::detail::set_hook(nullptr);
  EXPECT_EQ(late_spawn::outcome.load(), 1);
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"child finished", "group returned"}));
}

// ---- failure ------------------------------------------------------------------------------

TEST(TaskGroup, AFailingChildCancelsTheOtherChildrenAndTheBodyThenRaisesAnExceptionGroup) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    std::vector<std::string> errors;
    std::string what;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
              (void)tg.spawn(sleep_an_hour(ev, "a"));
              (void)tg.spawn(fail_after(1s, "child failed"));
              (void)tg.spawn(sleep_an_hour(ev, "b"));
              co_await sleep_an_hour(ev, "body");
            });
            ADD_FAILURE() << "task_group returned normally";
          } catch (const weft::ExceptionGroup& g) {
            errors = messages_of(g);
            what = g.what();
            ev.add("ExceptionGroup");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(errors, (std::vector<std::string>{"child failed"}));
    EXPECT_NE(what.find("1 task(s) failed"), std::string::npos) << what;
    EXPECT_NE(what.find("child failed"), std::string::npos) << what;
    EXPECT_EQ(ev.count("a cancelled"), 1);
    EXPECT_EQ(ev.count("b cancelled"), 1);
    EXPECT_EQ(ev.count("body cancelled"), 1);
    ASSERT_EQ(ev.seen.size(), 4u);
    EXPECT_EQ(ev.seen.back(), "ExceptionGroup");
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 1s, 1s}));
  }
}

TEST(TaskGroup, TheExceptionGroupHoldsEveryErrorInTheOrderTheyHappened) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::vector<std::string> errors;
    std::string what;
    weft::run(
        [&]() -> weft::Task<void> {
          try {
            co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
              (void)tg.spawn(fail_when_cancelled("second: failed while cancelled"));
              (void)tg.spawn(fail_after(1s, "first: failed on its own"));
              co_return;
            });
          } catch (const weft::ExceptionGroup& g) {
            errors = messages_of(g);
            what = g.what();
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(errors, (std::vector<std::string>{"first: failed on its own",
                                                "second: failed while cancelled"}));
    EXPECT_NE(what.find("2 task(s) failed"), std::string::npos) << what;
  }
}

TEST(TaskGroup, TheBodysOwnExceptionIsIncludedAndCancelsTheChildren) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    std::vector<std::string> errors;
    weft::run(
        [&]() -> weft::Task<void> {
          ev.start = weft::now();
          try {
            co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
              (void)tg.spawn(sleep_an_hour(ev, "a"));
              (void)tg.spawn(fail_when_cancelled("child failed while cancelled"));
              co_await weft::sleep(1s);
              throw std::runtime_error("body failed");
            });
          } catch (const weft::ExceptionGroup& g) {
            errors = messages_of(g);
            ev.add("ExceptionGroup");
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(errors, (std::vector<std::string>{"body failed", "child failed while cancelled"}));
    EXPECT_EQ(ev.seen, (std::vector<std::string>{"a cancelled", "ExceptionGroup"}));
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s}));
  }
}

TEST(TaskGroup, AwaitingAFailingChildsHandleInTheBodyReportsItsErrorOnce) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::vector<std::string> errors;
    weft::run(
        [&]() -> weft::Task<void> {
          try {
            co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
              weft::JoinHandle<void> h = tg.spawn(fail_after(1s, "awaited child failed"));
              co_await h;
            });
          } catch (const weft::ExceptionGroup& g) {
            errors = messages_of(g);
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(errors, (std::vector<std::string>{"awaited child failed"}));
  }
}

/// An inner task group whose child fails, inside the body of an outer group.
weft::Task<void> inner_group_failing() {
  co_await weft::task_group([](weft::TaskGroup& tg) -> weft::Task<void> {
    (void)tg.spawn(fail_after(1s, "inner child failed"));
    co_return;
  });
}

TEST(TaskGroup, AnInnerGroupsExceptionGroupFailsTheOuterGroup) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(sleep_an_hour(ev, "outer child"));
            co_await inner_group_failing();
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
        }
      }(),
      virtual_clock(2));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("inner child failed"), std::string::npos) << errors[0];
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"outer child cancelled"}));
}

TEST(TaskGroup, AChildFailingAfterTheBodyReturnedStillCancelsTheOthers) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(sleep_an_hour(ev, "a"));
            (void)tg.spawn(fail_after(2s, "late failure"));
            ev.add("body done");
            co_return;
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
          ev.add("ExceptionGroup");
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(errors, (std::vector<std::string>{"late failure"}));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body done", "a cancelled", "ExceptionGroup"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{0s, 2s, 2s}));
}

/// A child that spawns a failing grandchild into the same group, then finishes at once.
weft::Task<void> spawn_failing_grandchild(weft::TaskGroup& tg) {
  (void)tg.spawn(fail_after(1s, "grandchild failed"));
  co_return;
}

TEST(TaskGroup, AFailingGrandchildCancelsTheWholeGroup) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(sleep_an_hour(ev, "a"));
            (void)tg.spawn(spawn_failing_grandchild(tg));
            co_await sleep_an_hour(ev, "body");
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(errors, (std::vector<std::string>{"grandchild failed"}));
  EXPECT_EQ(ev.count("a cancelled"), 1);
  EXPECT_EQ(ev.count("body cancelled"), 1);
}

TEST(TaskGroup, ChildErrorsDoNotReachTheUnobservedErrorHandler) {
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = virtual_clock(2);
  options.on_unobserved_error = [&](const weft::TaskInfo&, std::exception_ptr) {
    unobserved.fetch_add(1);
  };
  bool caught = false;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(fail_after(1s, "one"));
            (void)tg.spawn(fail_when_cancelled("two"));
            co_return;
          });
        } catch (const weft::ExceptionGroup&) {
          caught = true;
        }
      }(),
      options);
  EXPECT_TRUE(caught);
  EXPECT_EQ(unobserved.load(), 0);
}

/// Sleeps for an hour; once cancelled, takes two more seconds to clean up, then rethrows.
weft::Task<void> sleep_an_hour_with_two_second_cleanup(Events& ev) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    ev.add("a cancelled");
  }
  try {
    co_await weft::sleep(2s);
  } catch (const weft::CancelledError&) {
    ev.add("a cancelled again during its cleanup");
    throw;
  }
  ev.add("a cleaned up");
  throw weft::CancelledError();
}

weft::Task<void> sleep_for(weft::Duration d) {
  co_await weft::sleep(d);
}

// BUG: one failure cancels the other children twice. fail() cancels every child and
// requests cancellation of the parent at the group's depth (to interrupt the body). When
// the body does not take that request (here it is shielded; equally when it has already
// returned or thrown), the parent then enters tg.join() with the request still pending:
// join's forwarding wait sees an effective cancellation and forwards it, calling
// TaskGroup::cancel() again, so a child that caught the first CancelledError and is
// cleaning up gets a second one. asyncio aborts the children once. On several workers the
// same race makes the outcome depend on whether a child ran between the two cancels.
TEST(TaskGroup, AFailureCancelsEachOtherChildOnlyOnce) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(sleep_an_hour_with_two_second_cleanup(ev));
            (void)tg.spawn(fail_after(1s, "child failed"));
            co_await weft::shield(sleep_for(1500ms));
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
          ev.add("ExceptionGroup");
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(errors, (std::vector<std::string>{"child failed"}));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"a cancelled", "a cleaned up", "ExceptionGroup"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 3s, 3s}));
}

// ---- cancelling the parent ----------------------------------------------------------------

/// A task group whose children clean up slowly, with a body that awaits `body_sleep`;
/// records what reached the parent.
weft::Task<void> group_with_slow_children(Events& ev, weft::Duration body_sleep) {
  try {
    co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
      (void)tg.spawn(sleep_an_hour_with_slow_cleanup(ev, "a"));
      (void)tg.spawn(sleep_an_hour_with_slow_cleanup(ev, "b"));
      co_await weft::sleep(body_sleep);
    });
  } catch (const weft::CancelledError&) {
    ev.add("parent CancelledError");
    throw;
  } catch (const std::exception& e) {
    ev.add(std::string("parent got ") + e.what());
    throw;
  }
  ev.add("parent returned");
}

/// Cancels group_with_slow_children after one second and awaits it.
weft::Task<void> cancel_group_after_one_second(Events& ev, weft::Duration body_sleep) {
  ev.start = weft::now();
  weft::JoinHandle<void> h = weft::spawn(group_with_slow_children(ev, body_sleep));
  co_await weft::sleep(1s);
  h.cancel();
  try {
    co_await h;
  } catch (const weft::CancelledError&) {
    ev.add("handle CancelledError");
  }
}

TEST(TaskGroup, CancellingTheParentWhileItWaitsForChildrenCancelsThemAndWaits) {
  // The body has returned: the parent is waiting for the children when the cancel comes.
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(cancel_group_after_one_second(ev, 0s), virtual_clock(workers));
    EXPECT_EQ(ev.count("a cancelled"), 1);
    EXPECT_EQ(ev.count("b cancelled"), 1);
    EXPECT_EQ(ev.count("a cleaned up"), 1);
    EXPECT_EQ(ev.count("b cleaned up"), 1);
    ASSERT_EQ(ev.seen.size(), 6u) << testing::PrintToString(ev.seen);
    EXPECT_EQ(ev.seen[4], "parent CancelledError");
    EXPECT_EQ(ev.seen[5], "handle CancelledError");
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 2s, 2s, 2s, 2s}));
  }
}

// BUG: cancelling the parent while the task_group body is suspended on a claimable wait (a
// sleep here) does not cancel the children. The cancellation ends the body's sleep with
// CancelledError, which consumes it (take_cancel clears the bit); task_group then records
// body_cancelled but neither calls tg.cancel() nor leaves a cancellation pending, so
// tg.join() waits for the children to finish on their own (here for an hour of virtual
// time) before CancelledError is raised. asyncio's TaskGroup aborts the children when the
// body exits with CancelledError.
TEST(TaskGroup, CancellingTheParentWhileTheBodyAwaitsCancelsTheChildrenAndWaits) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    Events ev;
    weft::run(cancel_group_after_one_second(ev, 1h), virtual_clock(workers));
    EXPECT_EQ(ev.count("a cancelled"), 1);
    EXPECT_EQ(ev.count("b cancelled"), 1);
    EXPECT_EQ(ev.count("a cleaned up"), 1);
    EXPECT_EQ(ev.count("b cleaned up"), 1);
    ASSERT_EQ(ev.seen.size(), 6u) << testing::PrintToString(ev.seen);
    EXPECT_EQ(ev.seen[4], "parent CancelledError");
    EXPECT_EQ(ev.seen[5], "handle CancelledError");
    EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s, 2s, 2s, 2s, 2s}));
  }
}

/// A body that waits under its own far deadline while a child fails.
weft::Task<void> body_in_wait_for(Events& ev) {
  try {
    co_await weft::wait_for(sleep_an_hour(ev, "body"), 10s);
  } catch (const weft::TimeoutError&) {
    ev.add("body boundary: TimeoutError");
    throw;
  } catch (const weft::CancelledError&) {
    ev.add("body boundary: CancelledError");
    throw;
  }
}

TEST(TaskGroup, AFailureWhileTheBodyIsInsideAWaitForCancelsItWithoutATimeout) {
  Events ev;
  std::vector<std::string> errors;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
            (void)tg.spawn(fail_after(1s, "child failed"));
            co_await body_in_wait_for(ev);
          });
        } catch (const weft::ExceptionGroup& g) {
          errors = messages_of(g);
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(errors, (std::vector<std::string>{"child failed"}));
  EXPECT_EQ(ev.seen, (std::vector<std::string>{"body cancelled", "body boundary: CancelledError"}));
  EXPECT_EQ(ev.at, (std::vector<weft::Duration>{1s, 1s}));
}

/// A task group with long-sleeping children and a long-sleeping body.
weft::Task<void> group_sleeping_an_hour(Events& ev) {
  co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
    (void)tg.spawn(sleep_an_hour(ev, "a"));
    co_await sleep_an_hour(ev, "body");
  });
}

// A timeout around a task_group ends the children too, not only the body's sleep (once, the
// scope waited for its children to finish on their own, an hour, before raising TimeoutError).
TEST(TaskGroup, ATimeoutAroundTheGroupCancelsTheChildrenAtTheDeadline) {
  Events ev;
  bool timed_out = false;
  weft::run(
      [&]() -> weft::Task<void> {
        ev.start = weft::now();
        try {
          co_await weft::wait_for(group_sleeping_an_hour(ev), 1s);
        } catch (const weft::TimeoutError&) {
          timed_out = true;
          ev.add("TimeoutError");
        }
      }(),
      virtual_clock(1));
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(ev.count("a cancelled"), 1) << testing::PrintToString(ev.seen);
  EXPECT_EQ(ev.count("body cancelled"), 1);
  EXPECT_EQ(ev.at.back(), 1s);
}

// ---- stress -------------------------------------------------------------------------------

weft::Task<void> count_after_yield(std::atomic<int>& finished) {
  co_await weft::yield_now();
  finished.fetch_add(1);
}

/// Counts its start, then sleeps for an hour unless cancelled.
weft::Task<void> count_start_then_sleep(std::atomic<int>& started, std::atomic<int>& cancelled) {
  started.fetch_add(1);
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    cancelled.fetch_add(1);
    throw;
  }
}

TEST(TaskGroupStress, TenThousandChildrenOnFourWorkersAllFinishBeforeTheGroupReturns) {
  const int n = static_cast<int>(weft::test::scaled(10'000, 100));
  std::atomic<int> finished{0};
  int finished_when_returned = -1;
  weft::run(
      [&]() -> weft::Task<void> {
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          for (int i = 0; i < n; ++i) (void)tg.spawn(count_after_yield(finished));
          co_return;
        });
        finished_when_returned = finished.load();
      }(),
      virtual_clock(4));
  EXPECT_EQ(finished_when_returned, n);
}

TEST(TaskGroupStress, OneFailureAmongTenThousandChildrenCancelsEveryOtherChild) {
  const int n = static_cast<int>(weft::test::scaled(10'000, 100));
  for (std::size_t workers : {2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::atomic<int> started{0};
    std::atomic<int> cancelled{0};
    std::vector<std::string> errors;
    std::size_t live_when_caught = 0;
    weft::Runtime rt(virtual_clock(workers));
    rt.block_on([&]() -> weft::Task<void> {
      try {
        co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<void> {
          for (int i = 0; i < n; ++i) {
            if (i == n / 2) {
              (void)tg.spawn(fail_after(0s, "the one"));
            } else {
              (void)tg.spawn(count_start_then_sleep(started, cancelled));
            }
          }
          co_return;
        });
      } catch (const weft::ExceptionGroup& g) {
        errors = messages_of(g);
        live_when_caught = rt.live_tasks();
      }
    }());
    EXPECT_EQ(errors, (std::vector<std::string>{"the one"}));
    EXPECT_EQ(cancelled.load(), started.load());
    EXPECT_EQ(live_when_caught, 1u);
  }
}

}  // namespace
