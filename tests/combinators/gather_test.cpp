// gather and gather_settled (asyncio.gather, without and with return_exceptions=True): the
// values in argument order, children running in parallel, the tuple, vector-of-tasks and
// vector-of-handles forms, fail-fast cancellation of the siblings, settled outcomes, and the
// structured cancellation of every child when the awaiting task is cancelled.
//
// Every runtime runs on the virtual clock, so sleeps end without real waiting and the
// virtual time a gather takes is compared exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include <weft/weft.hpp>

#include "same_instant.hpp"
#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

weft::RuntimeOptions virtual_clock(std::size_t workers) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

/// virtual_clock(workers) whose unobserved-error handler counts into `unobserved`.
weft::RuntimeOptions counting_unobserved(std::size_t workers, std::atomic<int>& unobserved) {
  weft::RuntimeOptions options = virtual_clock(workers);
  options.on_unobserved_error = [&unobserved](const weft::TaskInfo&, std::exception_ptr) {
    unobserved.fetch_add(1);
  };
  return options;
}

/// A child's own failure, so a test can tell it from anything weft throws.
struct ChildError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The what() of a stored exception.
std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  }
}

weft::Task<int> value_after(weft::Duration d, int v) {
  co_await weft::sleep(d);
  co_return v;
}

weft::Task<std::string> text_after(weft::Duration d, std::string s) {
  co_await weft::sleep(d);
  co_return s;
}

weft::Task<void> nothing_after(weft::Duration d, std::atomic<int>& ran) {
  co_await weft::sleep(d);
  ran.fetch_add(1);
}

weft::Task<int> fail_after(weft::Duration d, std::string message) {
  co_await weft::sleep(d);
  throw ChildError(message);
}

/// What the siblings of a failing child went through.
struct SiblingLog {
  std::atomic<int> cancelled{0};
  std::atomic<int> finished{0};
};

/// Sleeps for an hour unless cancelled; records which of the two happened.
weft::Task<int> sleep_an_hour(SiblingLog& log) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    log.cancelled.fetch_add(1);
    throw;
  }
  log.finished.fetch_add(1);
  co_return 0;
}

/// Counts its start, then sleeps for an hour unless cancelled.
weft::Task<int> count_start_then_sleep_an_hour(std::atomic<int>& started, SiblingLog& log) {
  started.fetch_add(1);
  co_return co_await sleep_an_hour(log);
}

// ---- values ----------------------------------------------------------------------------

TEST(Gather, ReturnsATupleOfTheValuesInArgumentOrderNotCompletionOrder) {
  std::atomic<int> ran{0};
  auto result = weft::run(
      [&]() -> weft::Task<std::tuple<int, std::string, std::monostate, int>> {
        co_return co_await weft::gather(value_after(3ms, 1), text_after(2ms, "two"),
                                        nothing_after(1ms, ran), value_after(0ms, 4));
      }(),
      virtual_clock(1));
  static_assert(
      std::is_same_v<decltype(result), std::tuple<int, std::string, std::monostate, int>>);
  EXPECT_EQ(std::get<0>(result), 1);
  EXPECT_EQ(std::get<1>(result), "two");
  EXPECT_EQ(std::get<3>(result), 4);
  EXPECT_EQ(ran.load(), 1);
}

TEST(Gather, OfASingleVoidTaskReturnsAMonostate) {
  std::atomic<int> ran{0};
  auto result = weft::run(
      [&]() -> weft::Task<std::tuple<std::monostate>> {
        co_return co_await weft::gather(nothing_after(1s, ran));
      }(),
      virtual_clock(1));
  static_assert(std::is_same_v<decltype(result), std::tuple<std::monostate>>);
  EXPECT_EQ(ran.load(), 1);
}

TEST(Gather, RunsItsChildrenInParallelSoThreeOneSecondSleepsTakeOneSecond) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    int sum = 0;
    weft::Duration elapsed = weft::run(
        [&]() -> weft::Task<weft::Duration> {
          weft::TimePoint start = weft::now();
          auto [a, b, c] =
              co_await weft::gather(value_after(1s, 1), value_after(1s, 2), value_after(1s, 3));
          sum = a + b + c;
          co_return weft::now() - start;
        }(),
        virtual_clock(workers));
    EXPECT_EQ(sum, 6);
    EXPECT_EQ(elapsed, 1s);
  }
}

TEST(Gather, OfAVectorOfTasksReturnsTheValuesInOrder) {
  std::vector<int> values = weft::run(
      []() -> weft::Task<std::vector<int>> {
        std::vector<weft::Task<int>> tasks;
        for (int i = 0; i < 5; ++i) tasks.push_back(value_after((5 - i) * 1ms, i * 10));
        co_return co_await weft::gather(std::move(tasks));
      }(),
      virtual_clock(2));
  EXPECT_EQ(values, (std::vector<int>{0, 10, 20, 30, 40}));
}

TEST(Gather, OfAVectorOfVoidTasksReturnsOneMonostatePerTask) {
  std::atomic<int> ran{0};
  std::size_t n = weft::run(
      [&]() -> weft::Task<std::size_t> {
        std::vector<weft::Task<void>> tasks;
        for (int i = 0; i < 4; ++i) tasks.push_back(nothing_after(i * 1ms, ran));
        std::vector<std::monostate> out = co_await weft::gather(std::move(tasks));
        co_return out.size();
      }(),
      virtual_clock(2));
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(ran.load(), 4);
}

TEST(Gather, OfAnEmptyVectorReturnsAnEmptyVectorAtOnce) {
  std::size_t n = weft::run(
      []() -> weft::Task<std::size_t> {
        std::vector<int> out = co_await weft::gather(std::vector<weft::Task<int>>{});
        co_return out.size();
      }(),
      virtual_clock(1));
  EXPECT_EQ(n, 0u);
}

TEST(Gather, OfAVectorOfJoinHandlesReturnsTheValuesInOrder) {
  std::vector<int> values = weft::run(
      []() -> weft::Task<std::vector<int>> {
        std::vector<weft::JoinHandle<int>> handles;
        for (int i = 0; i < 5; ++i) handles.push_back(weft::spawn(value_after((5 - i) * 1ms, i)));
        co_return co_await weft::gather(std::move(handles));
      }(),
      virtual_clock(2));
  EXPECT_EQ(values, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Gather, MixesTasksAndJoinHandlesInOneCall) {
  auto result = weft::run(
      []() -> weft::Task<std::tuple<int, int>> {
        weft::JoinHandle<int> h = weft::spawn(value_after(2ms, 1));
        co_return co_await weft::gather(std::move(h), value_after(1ms, 2));
      }(),
      virtual_clock(2));
  EXPECT_EQ(result, std::make_tuple(1, 2));
}

TEST(Gather, OfAJoinHandleWhoseTaskAlreadyFinishedReturnsItsValue) {
  bool was_done = false;
  auto result = weft::run(
      [&]() -> weft::Task<std::tuple<int, int>> {
        weft::JoinHandle<int> h = weft::spawn(value_after(1ms, 7));
        co_await weft::sleep(1s);
        was_done = h.done();
        co_return co_await weft::gather(std::move(h), value_after(1ms, 8));
      }(),
      virtual_clock(1));
  EXPECT_TRUE(was_done);
  EXPECT_EQ(result, std::make_tuple(7, 8));
}

// BUG: gather over a moved-from JoinHandle dereferences a null header (segfault) instead of
// throwing UsageError as wait() and as_completed() do (DESIGN section 8: a clear error, not
// a crash). gather_range/gather_handles take each handle's header without checking the
// handle, and GatherAwaiter::await_suspend reads its observer through the null pointer
// (gather.cpp).
TEST(Gather, OfAMovedFromJoinHandleThrowsUsageError) {
  bool threw = false;
  weft::run(
      [&]() -> weft::Task<void> {
        std::vector<weft::JoinHandle<int>> handles;
        handles.push_back(weft::spawn(value_after(1ms, 1)));
        weft::JoinHandle<int> taken = std::move(handles[0]);
        handles.push_back(weft::spawn(value_after(1ms, 2)));
        try {
          co_await weft::gather(std::move(handles));
        } catch (const weft::UsageError&) {
          threw = true;
        }
        co_await std::move(taken);
      }(),
      virtual_clock(1));
  EXPECT_TRUE(threw);
}

// ---- the first failure ------------------------------------------------------------------

/// What the task awaiting a failing gather saw when its catch ran.
struct FailureSeen {
  std::string message;
  int siblings_cancelled = -1;
  weft::Duration elapsed{};
};

weft::Task<void> gather_with_one_failure(SiblingLog& log, FailureSeen& seen) {
  weft::TimePoint start = weft::now();
  try {
    co_await weft::gather(sleep_an_hour(log), fail_after(1s, "child 2 failed"), sleep_an_hour(log));
    ADD_FAILURE() << "gather returned normally";
  } catch (const ChildError& e) {
    seen.message = e.what();
    seen.siblings_cancelled = log.cancelled.load();
    seen.elapsed = weft::now() - start;
  }
}

TEST(Gather, FirstFailureCancelsTheSiblingsWaitsForThemAndIsRethrown) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SiblingLog log;
    FailureSeen seen;
    weft::run(gather_with_one_failure(log, seen), virtual_clock(workers));
    EXPECT_EQ(seen.message, "child 2 failed");
    EXPECT_EQ(seen.siblings_cancelled, 2) << "the siblings finished before the catch ran";
    EXPECT_EQ(seen.elapsed, 1s);
    EXPECT_EQ(log.finished.load(), 0);
  }
}

TEST(Gather, FirstFailureInAVectorCancelsTheRestAndIsRethrown) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SiblingLog log;
    FailureSeen seen;
    weft::run(
        [&]() -> weft::Task<void> {
          std::vector<weft::Task<int>> tasks;
          for (int i = 0; i < 6; ++i) {
            tasks.push_back(i == 3 ? fail_after(2s, "child 3 failed") : sleep_an_hour(log));
          }
          weft::TimePoint start = weft::now();
          try {
            co_await weft::gather(std::move(tasks));
          } catch (const ChildError& e) {
            seen.message = e.what();
            seen.siblings_cancelled = log.cancelled.load();
            seen.elapsed = weft::now() - start;
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(seen.message, "child 3 failed");
    EXPECT_EQ(seen.siblings_cancelled, 5);
    EXPECT_EQ(seen.elapsed, 2s);
  }
}

/// Sleeps for an hour; when cancelled, fails with an error of its own instead.
weft::Task<int> fail_when_cancelled() {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    throw std::logic_error("cleanup failed");
  }
  co_return 0;
}

TEST(Gather, OfAJoinHandleThatAlreadyFailedCancelsTheOthersAtOnce) {
  SiblingLog log;
  FailureSeen seen;
  weft::run(
      [&]() -> weft::Task<void> {
        weft::JoinHandle<int> failed = weft::spawn(fail_after(0s, "failed beforehand"));
        co_await weft::sleep(1s);
        weft::TimePoint start = weft::now();
        try {
          co_await weft::gather(sleep_an_hour(log), std::move(failed), sleep_an_hour(log));
        } catch (const ChildError& e) {
          seen.message = e.what();
          seen.elapsed = weft::now() - start;
        }
      }(),
      virtual_clock(2));
  EXPECT_EQ(seen.message, "failed beforehand");
  EXPECT_EQ(seen.elapsed, 0s);
  EXPECT_EQ(log.finished.load(), 0);
}

TEST(Gather, RethrowsTheFirstFailureEvenWhenACancelledSiblingFailsDifferently) {
  std::string caught;
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = counting_unobserved(2, unobserved);
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::gather(fail_when_cancelled(), fail_after(1s, "first"));
        } catch (const ChildError& e) {
          caught = e.what();
        } catch (const std::exception& e) {
          caught = std::string("wrong exception: ") + e.what();
        }
      }(),
      options);
  EXPECT_EQ(caught, "first");
  EXPECT_EQ(unobserved.load(), 0) << "the gather awaited the sibling: its error is observed";
}

/// Which exception a gather raised: "runtime_error: <what>", "logic_error: <what>", ...
template <class Awaitable>
weft::Task<std::string> outcome_of(Awaitable gather) {
  try {
    co_await std::move(gather);
  } catch (const weft::CancelledError&) {
    co_return "CancelledError";
  } catch (const std::runtime_error& e) {
    co_return std::string("runtime_error: ") + e.what();
  } catch (const std::logic_error& e) {
    co_return std::string("logic_error: ") + e.what();
  }
  co_return "no exception";
}

weft::Task<int> runtime_error_after(weft::Duration d, std::string message) {
  co_await weft::sleep(d);
  throw std::runtime_error(message);
}

// A gather that fails cancels the other children and waits for them; a child that fails
// in its own way while being cancelled was awaited too, by the gather, so nothing reports
// it as "failed and nobody awaited it" (the default handler prints to stderr).
TEST(Gather, ASiblingFailingWhileBeingCancelledIsNotReportedAsUnobserved) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SiblingLog log;
    testing::internal::CaptureStderr();
    std::string outcome = weft::run(
        [&]() -> weft::Task<std::string> {
          co_return co_await outcome_of(weft::gather(
              fail_when_cancelled(), runtime_error_after(1s, "first"), sleep_an_hour(log)));
        }(),
        virtual_clock(workers));
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(outcome, "runtime_error: first");
    EXPECT_EQ(log.cancelled.load(), 1);
    EXPECT_EQ(err, "");
  }
}

TEST(Gather, OfAVectorASiblingFailingWhileBeingCancelledIsNotReportedAsUnobserved) {
  testing::internal::CaptureStderr();
  std::string outcome = weft::run(
      []() -> weft::Task<std::string> {
        std::vector<weft::Task<int>> tasks;
        tasks.push_back(fail_when_cancelled());
        tasks.push_back(runtime_error_after(1s, "first"));
        tasks.push_back(fail_when_cancelled());
        co_return co_await outcome_of(weft::gather(std::move(tasks)));
      }(),
      virtual_clock(2));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(outcome, "runtime_error: first");
  EXPECT_EQ(err, "");
}

TEST(Gather, CancelledWhileItsChildrenFailInTheirCleanupRaisesCancelledErrorAndReportsNothing) {
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = counting_unobserved(2, unobserved);
  std::string outcome = weft::run(
      []() -> weft::Task<std::string> {
        weft::JoinHandle<std::string> h =
            weft::spawn(outcome_of(weft::gather(fail_when_cancelled(), fail_when_cancelled())));
        co_await weft::sleep(1s);
        h.cancel();
        co_return co_await h;
      }(),
      options);
  EXPECT_EQ(outcome, "CancelledError");
  EXPECT_EQ(unobserved.load(), 0);
}

// The first child's failure (caused by the cancellation the gather forwarded) must not send
// the other child a second request while it is still in its cleanup: that request stays
// pending past the child's end and made the gather take its own cancellation as not
// delivered, raising the child's error instead of CancelledError. The order is forced: b
// enters its cleanup (shielded, so the second request waits), then a fails, then b fails.
TEST(Gather, CancelledWhileASiblingIsStillInItsCleanupRaisesCancelledError) {
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = counting_unobserved(2, unobserved);
  std::string outcome = weft::run(
      []() -> weft::Task<std::string> {
        weft::Event b_cleaning;
        auto a = [&b_cleaning]() -> weft::Task<int> {
          try {
            co_await weft::sleep(1h);
          } catch (const weft::CancelledError&) {
          }
          co_await weft::shield(b_cleaning.wait());
          throw std::logic_error("a: cleanup failed");
        };
        auto b = [&b_cleaning]() -> weft::Task<int> {
          try {
            co_await weft::sleep(1h);
          } catch (const weft::CancelledError&) {
          }
          b_cleaning.set();
          co_await weft::shield(weft::sleep(1s));  // a fails meanwhile
          throw std::logic_error("b: cleanup failed");
        };
        weft::JoinHandle<std::string> h = weft::spawn(outcome_of(weft::gather(a(), b())));
        co_await weft::sleep(1s);
        h.cancel();
        co_return co_await h;
      }(),
      options);
  EXPECT_EQ(outcome, "CancelledError");
  EXPECT_EQ(unobserved.load(), 0);
}

// The gather takes its children's outcomes, nothing else: a task one of them spawned and
// dropped is still reported when it fails unawaited.
TEST(Gather, ADetachedTaskSpawnedByAChildIsStillReportedWhenItFails) {
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = counting_unobserved(2, unobserved);
  std::string outcome = weft::run(
      []() -> weft::Task<std::string> {
        auto spawn_then_fail = []() -> weft::Task<int> {
          { weft::JoinHandle<int> dropped = weft::spawn(runtime_error_after(2s, "detached")); }
          co_return co_await runtime_error_after(1s, "first");
        };
        std::string outcome =
            co_await outcome_of(weft::gather(spawn_then_fail(), fail_when_cancelled()));
        co_await weft::sleep(2s);  // the detached task fails meanwhile
        co_return outcome;
      }(),
      options);
  EXPECT_EQ(outcome, "runtime_error: first");
  EXPECT_EQ(unobserved.load(), 1);
}

TEST(Gather, CancelledSiblingsDoNotReachTheUnobservedErrorHandler) {
  std::atomic<int> unobserved{0};
  weft::RuntimeOptions options = counting_unobserved(2, unobserved);
  SiblingLog log;
  FailureSeen seen;
  weft::run(gather_with_one_failure(log, seen), options);
  EXPECT_EQ(seen.message, "child 2 failed");
  EXPECT_EQ(unobserved.load(), 0);
}

// ---- gather_settled ---------------------------------------------------------------------

TEST(GatherSettled, ReturnsEveryOutcomeAndCancelsNothing) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::atomic<int> unobserved{0};
    weft::RuntimeOptions options = counting_unobserved(workers, unobserved);
    std::atomic<int> ran{0};
    weft::run(
        [&]() -> weft::Task<void> {
          weft::TimePoint start = weft::now();
          auto [a, b, c, d] =
              co_await weft::gather_settled(value_after(1s, 1), fail_after(500ms, "bad child"),
                                            value_after(2s, 3), nothing_after(1500ms, ran));
          EXPECT_EQ(weft::now() - start, 2s);

          EXPECT_TRUE(a.ok());
          EXPECT_EQ(a.value(), 1);
          EXPECT_EQ(a.error(), nullptr);

          EXPECT_FALSE(b.ok());
          EXPECT_NE(b.error(), nullptr);
          EXPECT_THROW(b.value(), ChildError);
          try {
            std::rethrow_exception(b.error());
          } catch (const ChildError& e) {
            EXPECT_STREQ(e.what(), "bad child");
          }

          EXPECT_TRUE(c.ok());
          EXPECT_EQ(c.value(), 3);
          EXPECT_TRUE(d.ok());
          static_assert(std::is_same_v<decltype(d.value()), std::monostate&>);
        }(),
        options);
    EXPECT_EQ(ran.load(), 1);
    EXPECT_EQ(unobserved.load(), 0);
  }
}

TEST(GatherSettled, OfAVectorOfTasksReturnsAnOutcomePerTaskInOrder) {
  weft::run(
      []() -> weft::Task<void> {
        std::vector<weft::Task<int>> tasks;
        for (int i = 0; i < 6; ++i) {
          tasks.push_back(i % 2 ? fail_after(i * 1ms, "odd " + std::to_string(i))
                                : value_after(i * 1ms, i));
        }
        std::vector<weft::Settled<int>> out = co_await weft::gather_settled(std::move(tasks));
        EXPECT_EQ(out.size(), 6u);
        for (int i = 0; i < static_cast<int>(out.size()); ++i) {
          SCOPED_TRACE(i);
          EXPECT_EQ(out[i].ok(), i % 2 == 0);
          if (out[i].ok()) {
            EXPECT_EQ(out[i].value(), i);
          } else {
            EXPECT_EQ(message_of(out[i].error()), "odd " + std::to_string(i));
          }
        }
      }(),
      virtual_clock(2));
}

TEST(GatherSettled, OfAVectorOfJoinHandlesLetsEverySiblingRunToItsEnd) {
  weft::run(
      []() -> weft::Task<void> {
        std::vector<weft::JoinHandle<int>> handles;
        handles.push_back(weft::spawn(fail_after(1ms, "early failure")));
        handles.push_back(weft::spawn(value_after(1s, 2)));
        weft::TimePoint start = weft::now();
        std::vector<weft::Settled<int>> out = co_await weft::gather_settled(std::move(handles));
        EXPECT_EQ(weft::now() - start, 1s);
        EXPECT_FALSE(out[0].ok());
        EXPECT_TRUE(out[1].ok());
        EXPECT_EQ(out[1].value(), 2);
      }(),
      virtual_clock(2));
}

// ---- cancelling the awaiting task -------------------------------------------------------

/// What the children of a cancelled gather and their parent went through.
struct CancelLog {
  std::atomic<int> cancelled{0};
  std::atomic<int> cleaned_up{0};
  int cleaned_up_when_parent_caught = -1;
  weft::Duration parent_caught_after{};
};

/// Sleeps for an hour; once cancelled, takes a second of (virtual) time to clean up.
weft::Task<int> child_with_slow_cleanup(CancelLog& log) {
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    log.cancelled.fetch_add(1);
  }
  co_await weft::sleep(1s);
  log.cleaned_up.fetch_add(1);
  co_return -1;
}

weft::Task<void> gather_three_slow_children(CancelLog& log, weft::TimePoint start) {
  try {
    co_await weft::gather(child_with_slow_cleanup(log), child_with_slow_cleanup(log),
                          child_with_slow_cleanup(log));
  } catch (const weft::CancelledError&) {
    log.cleaned_up_when_parent_caught = log.cleaned_up.load();
    log.parent_caught_after = weft::now() - start;
    throw;
  }
  ADD_FAILURE() << "gather returned normally";
}

TEST(Gather, CancellingTheAwaitingTaskCancelsEveryChildAndWaitsForThem) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    CancelLog log;
    weft::run(
        [&]() -> weft::Task<void> {
          weft::JoinHandle<void> h = weft::spawn(gather_three_slow_children(log, weft::now()));
          co_await weft::sleep(1s);
          h.cancel();
          EXPECT_THROW(co_await h, weft::CancelledError);
        }(),
        virtual_clock(workers));
    EXPECT_EQ(log.cancelled.load(), 3);
    EXPECT_EQ(log.cleaned_up_when_parent_caught, 3);
    EXPECT_EQ(log.parent_caught_after, 2s);
  }
}

weft::Task<void> gather_settled_three_slow_children(CancelLog& log, weft::TimePoint start) {
  try {
    co_await weft::gather_settled(child_with_slow_cleanup(log), child_with_slow_cleanup(log),
                                  child_with_slow_cleanup(log));
  } catch (const weft::CancelledError&) {
    log.cleaned_up_when_parent_caught = log.cleaned_up.load();
    log.parent_caught_after = weft::now() - start;
    throw;
  }
  ADD_FAILURE() << "gather_settled returned normally";
}

TEST(GatherSettled, CancellingTheAwaitingTaskCancelsEveryChildAndWaitsForThem) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    CancelLog log;
    weft::run(
        [&]() -> weft::Task<void> {
          weft::JoinHandle<void> h =
              weft::spawn(gather_settled_three_slow_children(log, weft::now()));
          co_await weft::sleep(1s);
          h.cancel();
          EXPECT_THROW(co_await h, weft::CancelledError);
        }(),
        virtual_clock(workers));
    EXPECT_EQ(log.cancelled.load(), 3);
    EXPECT_EQ(log.cleaned_up_when_parent_caught, 3);
    EXPECT_EQ(log.parent_caught_after, 2s);
  }
}

weft::Task<void> sleep_for(weft::Duration d) {
  co_await weft::sleep(d);
}

/// Receives a cancellation while shielded, then gathers with the cancellation pending.
weft::Task<void> gather_with_a_pending_cancel(SiblingLog& log, std::atomic<int>& started) {
  co_await weft::shield(sleep_for(1s));
  co_await weft::gather(count_start_then_sleep_an_hour(started, log),
                        count_start_then_sleep_an_hour(started, log));
}

TEST(Gather, InATaskWithAPendingCancellationCancelsTheChildrenAtOnce) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SiblingLog log;
    std::atomic<int> started{0};
    weft::Duration elapsed{};
    weft::run(
        [&]() -> weft::Task<void> {
          weft::TimePoint start = weft::now();
          weft::JoinHandle<void> h = weft::spawn(gather_with_a_pending_cancel(log, started));
          co_await weft::sleep(500ms);
          h.cancel();
          EXPECT_THROW(co_await h, weft::CancelledError);
          elapsed = weft::now() - start;
        }(),
        virtual_clock(workers));
    EXPECT_EQ(elapsed, 1s);
    EXPECT_EQ(log.cancelled.load(), started.load());
    EXPECT_EQ(log.finished.load(), 0);
  }
}

weft::Task<void> gather_handles_forever(std::vector<weft::JoinHandle<int>> handles) {
  co_await weft::gather(std::move(handles));
}

TEST(Gather, CancellingTheAwaitingTaskAlsoCancelsTheTasksOfGatheredHandles) {
  SiblingLog log;
  weft::run(
      [&]() -> weft::Task<void> {
        std::vector<weft::JoinHandle<int>> handles;
        for (int i = 0; i < 3; ++i) handles.push_back(weft::spawn(sleep_an_hour(log)));
        weft::JoinHandle<void> h = weft::spawn(gather_handles_forever(std::move(handles)));
        co_await weft::sleep(1s);
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
        EXPECT_EQ(log.cancelled.load(), 3);
      }(),
      virtual_clock(2));
  EXPECT_EQ(log.finished.load(), 0);
}

// ---- a cancel that arrives as the children return (Trio's rule) -------------------------
//
// The gathering task is cancelled while its last child is finishing: the cancellation is
// forwarded to the children, and the last one returns its value without another await, so
// none of them sees it. The values are kept (asyncio would raise CancelledError), and the
// cancellation is delivered at the gathering task's next await, or never if it has none.

using weft::test::SameInstant;

/// Gathers cancel_parent_then_return and a child that returns 6 at once, then awaits once
/// more if `await_again`; returns the sum.
weft::Task<int> gather_the_canceller(SameInstant& s, bool await_again) {
  auto [a, b] = co_await weft::gather(cancel_parent_then_return(s), value_after(0s, 6));
  s.seen.push_back("gather returned " + std::to_string(a) + " and " + std::to_string(b));
  co_await weft::test::await_once_more(s, await_again);
  co_return a + b;
}

TEST(Gather, CancelledAsItsLastChildReturnsItGivesTheValuesAndTheNextAwaitRaises) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SameInstant s;
    weft::run(
        weft::test::await_the_cancelled_parent(s, gather_the_canceller(s, /*await_again=*/true)),
        virtual_clock(workers));
    EXPECT_EQ(s.seen, (std::vector<std::string>{"gather returned 5 and 6",
                                                "next await raised CancelledError",
                                                "parent raised CancelledError"}));
  }
}

TEST(Gather, CancelledAsItsLastChildReturnsATaskWithNoFurtherAwaitReturnsTheValues) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    SameInstant s;
    weft::run(
        weft::test::await_the_cancelled_parent(s, gather_the_canceller(s, /*await_again=*/false)),
        virtual_clock(workers));
    EXPECT_EQ(s.seen, (std::vector<std::string>{"gather returned 5 and 6", "parent returned 11"}));
  }
}

// ---- stress -----------------------------------------------------------------------------

weft::Task<int> varied_child(int i) {
  switch (i % 3) {
    case 0:
      co_await weft::yield_now();
      break;
    case 1:
      co_await weft::sleep(std::chrono::milliseconds(i % 7));
      break;
    default:
      break;
  }
  co_return i;
}

TEST(GatherStress, TenThousandTasksOnTwoAndFourWorkersReturnEveryValueInOrder) {
  const int n = static_cast<int>(weft::test::scaled(10'000, 100));
  for (std::size_t workers : {2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::vector<int> values = weft::run(
        [n]() -> weft::Task<std::vector<int>> {
          std::vector<weft::Task<int>> tasks;
          tasks.reserve(n);
          for (int i = 0; i < n; ++i) tasks.push_back(varied_child(i));
          co_return co_await weft::gather(std::move(tasks));
        }(),
        virtual_clock(workers));
    ASSERT_EQ(values.size(), static_cast<std::size_t>(n));
    int wrong = 0;
    for (int i = 0; i < n; ++i) wrong += values[i] != i;
    EXPECT_EQ(wrong, 0);
  }
}

TEST(GatherStress, OneFailureAmongTenThousandTasksCancelsAllTheOthersAndWaitsForThem) {
  const int n = static_cast<int>(weft::test::scaled(10'000, 100));
  for (std::size_t workers : {2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    weft::Runtime rt(virtual_clock(workers));
    std::atomic<int> started{0};
    SiblingLog log;
    FailureSeen seen;
    int started_when_caught = -1;
    std::size_t live_when_caught = 0;
    rt.block_on([&]() -> weft::Task<void> {
      std::vector<weft::Task<int>> tasks;
      tasks.reserve(n);
      for (int i = 0; i < n; ++i) {
        tasks.push_back(i == n / 2 ? fail_after(0s, "the one")
                                   : count_start_then_sleep_an_hour(started, log));
      }
      weft::TimePoint start = weft::now();
      try {
        co_await weft::gather(std::move(tasks));
      } catch (const ChildError& e) {
        seen.message = e.what();
        seen.siblings_cancelled = log.cancelled.load();
        seen.elapsed = weft::now() - start;
        started_when_caught = started.load();
        live_when_caught = rt.live_tasks();
      }
    }());
    EXPECT_EQ(seen.message, "the one");
    // A sibling cancelled before it started never runs; every one that started was
    // cancelled, and all of them had finished when the failure reached the caller.
    EXPECT_EQ(seen.siblings_cancelled, started_when_caught);
    EXPECT_EQ(live_when_caught, 1u) << "only the awaiting task itself is alive";
    EXPECT_EQ(seen.elapsed, 0s);
    EXPECT_EQ(log.finished.load(), 0);
  }
}

TEST(GatherStress, ManySmallGathersOnFourWorkersEachSeeEveryChild) {
  const int rounds = static_cast<int>(weft::test::scaled(2'000, 50));
  long long total = weft::run(
      [rounds]() -> weft::Task<long long> {
        long long sum = 0;
        for (int r = 0; r < rounds; ++r) {
          auto [a, b, c] =
              co_await weft::gather(varied_child(r), varied_child(r + 1), varied_child(r + 2));
          sum += a + b + c;
          std::vector<weft::Settled<int>> s =
              co_await weft::gather_settled(std::vector<weft::Task<int>>{});
          sum += static_cast<long long>(s.size());
        }
        co_return sum;
      }(),
      virtual_clock(4));
  long long expected = 0;
  for (int r = 0; r < rounds; ++r) expected += 3LL * r + 3;
  EXPECT_EQ(total, expected);
}

}  // namespace
