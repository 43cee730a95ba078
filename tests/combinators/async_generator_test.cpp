// AsyncGenerator<T> (Python's async generators): values in order then std::nullopt, awaits
// between yields, exceptions out of next(), destruction of an unfinished generator (its
// locals' destructors run), and cancellation of the consuming task while the generator
// awaits.
//
// Every runtime runs on the virtual clock, so sleeps inside a generator end without real
// waiting and the virtual time of each value is compared exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <memory>
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

/// A generator's own failure, so a test can tell it from anything weft throws.
struct GeneratorError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Counts live instances: constructed in a generator's frame, it must be destroyed with it.
struct Tracker {
  explicit Tracker(std::atomic<int>& live) : live_(live) { live_.fetch_add(1); }
  ~Tracker() { live_.fetch_sub(1); }
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;
  std::atomic<int>& live_;
};

weft::AsyncGenerator<int> count_to(int n) {
  for (int i = 1; i <= n; ++i) co_yield i;
}

/// Drains `gen` into a vector.
weft::Task<std::vector<int>> drain(weft::AsyncGenerator<int> gen) {
  std::vector<int> out;
  for (;;) {
    std::optional<int> v = co_await gen.next();
    if (!v) break;
    out.push_back(*v);
  }
  co_return out;
}

// ---- values -------------------------------------------------------------------------------

TEST(AsyncGenerator, YieldsItsValuesInOrderThenNullopt) {
  std::vector<int> values = weft::run(drain(count_to(5)), virtual_clock(1));
  EXPECT_EQ(values, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(AsyncGenerator, KeepsGivingNulloptAfterItsEnd) {
  int nullopts = weft::run(
      []() -> weft::Task<int> {
        weft::AsyncGenerator<int> gen = count_to(1);
        std::optional<int> first = co_await gen.next();
        EXPECT_EQ(first, std::optional<int>(1));
        int n = 0;
        for (int i = 0; i < 3; ++i) {
          std::optional<int> v = co_await gen.next();
          n += !v.has_value();
        }
        co_return n;
      }(),
      virtual_clock(1));
  EXPECT_EQ(nullopts, 3);
}

weft::AsyncGenerator<int> nothing() {
  co_return;
}

TEST(AsyncGenerator, ThatYieldsNothingGivesNulloptAtOnce) {
  std::vector<int> values = weft::run(drain(nothing()), virtual_clock(1));
  EXPECT_TRUE(values.empty());
}

weft::AsyncGenerator<std::unique_ptr<std::string>> words() {
  co_yield std::make_unique<std::string>("move");
  co_yield std::make_unique<std::string>("only");
}

TEST(AsyncGenerator, YieldsMoveOnlyValues) {
  std::string joined = weft::run(
      []() -> weft::Task<std::string> {
        weft::AsyncGenerator<std::unique_ptr<std::string>> gen = words();
        std::string out;
        for (;;) {
          std::optional<std::unique_ptr<std::string>> w = co_await gen.next();
          if (!w) break;
          out += **w;
        }
        co_return out;
      }(),
      virtual_clock(1));
  EXPECT_EQ(joined, "moveonly");
}

TEST(AsyncGenerator, NextOnAnEmptyGeneratorThrowsUsageError) {
  bool threw = false;
  weft::run(
      [&]() -> weft::Task<void> {
        weft::AsyncGenerator<int> gen;
        try {
          (void)co_await gen.next();
        } catch (const weft::UsageError&) {
          threw = true;
        }
      }(),
      virtual_clock(1));
  EXPECT_TRUE(threw);
}

// ---- awaiting inside ------------------------------------------------------------------------

/// Yields 1, 2, 3, sleeping one second of virtual time before each.
weft::AsyncGenerator<int> ticks() {
  for (int i = 1; i <= 3; ++i) {
    co_await weft::sleep(1s);
    co_yield i;
  }
}

TEST(AsyncGenerator, CanAwaitBetweenYields) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::vector<int> values;
    std::vector<weft::Duration> at;
    weft::run(
        [&]() -> weft::Task<void> {
          weft::TimePoint start = weft::now();
          weft::AsyncGenerator<int> gen = ticks();
          for (;;) {
            std::optional<int> v = co_await gen.next();
            if (!v) break;
            values.push_back(*v);
            at.push_back(weft::now() - start);
          }
        }(),
        virtual_clock(workers));
    EXPECT_EQ(values, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(at, (std::vector<weft::Duration>{1s, 2s, 3s}));
  }
}

weft::Task<int> value_after(weft::Duration d, int v) {
  co_await weft::sleep(d);
  co_return v;
}

/// Yields the values of spawned tasks and of a gather.
weft::AsyncGenerator<int> from_tasks() {
  weft::JoinHandle<int> h = weft::spawn(value_after(1s, 10));
  co_yield co_await h;
  auto [a, b] = co_await weft::gather(value_after(1s, 20), value_after(2s, 30));
  co_yield a;
  co_yield b;
}

TEST(AsyncGenerator, CanAwaitTasksAndGathersBetweenYields) {
  std::vector<int> values = weft::run(drain(from_tasks()), virtual_clock(2));
  EXPECT_EQ(values, (std::vector<int>{10, 20, 30}));
}

// ---- exceptions -----------------------------------------------------------------------------

weft::AsyncGenerator<int> one_then_fail() {
  co_yield 1;
  co_await weft::sleep(1s);
  throw GeneratorError("generator failed");
}

TEST(AsyncGenerator, AnExceptionThrownByTheGeneratorComesOutOfNext) {
  std::vector<std::string> seen;
  weft::run(
      [&]() -> weft::Task<void> {
        weft::AsyncGenerator<int> gen = one_then_fail();
        for (int i = 0; i < 3; ++i) {
          try {
            std::optional<int> v = co_await gen.next();
            seen.push_back(v ? std::to_string(*v) : "end");
          } catch (const GeneratorError& e) {
            seen.push_back(e.what());
          }
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "generator failed", "end"}));
}

weft::AsyncGenerator<int> fail_before_yielding() {
  throw GeneratorError("failed at once");
  co_return;
}

TEST(AsyncGenerator, AnExceptionBeforeTheFirstYieldComesOutOfTheFirstNext) {
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        weft::AsyncGenerator<int> gen = fail_before_yielding();
        try {
          (void)co_await gen.next();
        } catch (const GeneratorError& e) {
          message = e.what();
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(message, "failed at once");
}

// ---- destruction ----------------------------------------------------------------------------

/// Holds a Tracker across its yields.
weft::AsyncGenerator<int> tracked_count(std::atomic<int>& live, std::atomic<int>& finished) {
  Tracker t(live);
  for (int i = 1; i <= 100; ++i) co_yield i;
  finished.fetch_add(1);
}

TEST(AsyncGenerator, DestroyingAnUnfinishedGeneratorRunsItsLocalsDestructors) {
  std::atomic<int> live{0};
  std::atomic<int> finished{0};
  int live_while_suspended = -1;
  weft::run(
      [&]() -> weft::Task<void> {
        {
          weft::AsyncGenerator<int> gen = tracked_count(live, finished);
          std::optional<int> a = co_await gen.next();
          std::optional<int> b = co_await gen.next();
          EXPECT_EQ(a, std::optional<int>(1));
          EXPECT_EQ(b, std::optional<int>(2));
          live_while_suspended = live.load();
        }
        EXPECT_EQ(live.load(), 0);
      }(),
      virtual_clock(1));
  EXPECT_EQ(live_while_suspended, 1);
  EXPECT_EQ(live.load(), 0);
  EXPECT_EQ(finished.load(), 0);
}

weft::AsyncGenerator<int> hold(std::shared_ptr<int> p) {
  co_yield *p;
}

TEST(AsyncGenerator, DestroyingAGeneratorThatNeverStartedDestroysItsParameters) {
  auto p = std::make_shared<int>(1);
  {
    weft::AsyncGenerator<int> gen = hold(p);
    EXPECT_EQ(p.use_count(), 2);
  }
  EXPECT_EQ(p.use_count(), 1);
}

TEST(AsyncGenerator, MoveAssignmentDestroysTheGeneratorItReplaces) {
  std::atomic<int> live{0};
  std::atomic<int> finished{0};
  weft::run(
      [&]() -> weft::Task<void> {
        weft::AsyncGenerator<int> gen = tracked_count(live, finished);
        (void)co_await gen.next();
        EXPECT_EQ(live.load(), 1);
        gen = count_to(2);
        EXPECT_EQ(live.load(), 0);
        std::optional<int> v = co_await gen.next();
        EXPECT_EQ(v, std::optional<int>(1));
      }(),
      virtual_clock(1));
  EXPECT_EQ(live.load(), 0);
}

// ---- cancellation ---------------------------------------------------------------------------

/// What a generator and its consumer saw when the consumer was cancelled.
struct CancelLog {
  std::atomic<int> live{0};
  std::vector<std::string> seen;
  std::vector<weft::Duration> at;
  weft::TimePoint start;
  void add(std::string what) {
    seen.push_back(std::move(what));
    at.push_back(weft::now() - start);
  }
};

/// Yields 1, then sleeps for an hour before yielding 2; records a cancellation.
weft::AsyncGenerator<int> slow_second_value(CancelLog& log) {
  Tracker t(log.live);
  co_yield 1;
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    log.add("generator cancelled");
    throw;
  }
  co_yield 2;
}

weft::Task<void> consume_slow_generator(CancelLog& log) {
  weft::AsyncGenerator<int> gen = slow_second_value(log);
  std::optional<int> first = co_await gen.next();
  log.add("got " + std::to_string(first.value_or(-1)));
  try {
    (void)co_await gen.next();
    log.add("second next returned");
  } catch (const weft::CancelledError&) {
    log.add("next raised CancelledError");
  }
  log.add(log.live.load() == 0 ? "generator locals destroyed" : "generator locals alive");
  std::optional<int> after = co_await gen.next();
  log.add(after ? "next after the error gave a value" : "next after the error gave nullopt");
}

TEST(AsyncGenerator, CancellingTheConsumerWhileTheGeneratorAwaitsEndsNextWithCancelledError) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    CancelLog log;
    weft::run(
        [&]() -> weft::Task<void> {
          log.start = weft::now();
          weft::JoinHandle<void> h = weft::spawn(consume_slow_generator(log));
          co_await weft::sleep(1s);
          h.cancel();
          co_await h;  // the consumer caught the cancellation
        }(),
        virtual_clock(workers));
    EXPECT_EQ(log.seen, (std::vector<std::string>{
                            "got 1", "generator cancelled", "next raised CancelledError",
                            "generator locals destroyed", "next after the error gave nullopt"}));
    EXPECT_EQ(log.at, (std::vector<weft::Duration>{0s, 1s, 1s, 1s, 1s}));
    EXPECT_EQ(log.live.load(), 0);
  }
}

/// Yields 1 at once, then a value an hour later; records a cancellation.
weft::AsyncGenerator<int> one_then_an_hour(CancelLog& log) {
  co_yield 1;
  try {
    co_await weft::sleep(1h);
  } catch (const weft::CancelledError&) {
    log.add("generator cancelled");
    throw;
  }
  co_yield 2;
}

TEST(AsyncGenerator, ATimeoutAroundNextCancelsTheGeneratorsAwaitAndEndsTheGenerator) {
  CancelLog log;
  weft::run(
      [&]() -> weft::Task<void> {
        log.start = weft::now();
        weft::AsyncGenerator<int> gen = one_then_an_hour(log);
        std::optional<int> first = co_await weft::wait_for(gen.next(), 1s);
        log.add("got " + std::to_string(first.value_or(-1)));
        try {
          (void)co_await weft::wait_for(gen.next(), 1s);
          log.add("second next returned");
        } catch (const weft::TimeoutError&) {
          log.add("TimeoutError");
        }
        std::optional<int> after = co_await gen.next();
        log.add(after ? "value after the timeout" : "nullopt after the timeout");
      }(),
      virtual_clock(1));
  EXPECT_EQ(log.seen, (std::vector<std::string>{"got 1", "generator cancelled", "TimeoutError",
                                                "nullopt after the timeout"}));
  EXPECT_EQ(log.at, (std::vector<weft::Duration>{0s, 1s, 1s, 1s}));
}

// ---- stress -------------------------------------------------------------------------------

weft::AsyncGenerator<long long> numbers(long long n) {
  for (long long i = 0; i < n; ++i) {
    if (i % 1000 == 999) co_await weft::yield_now();
    co_yield i;
  }
}

TEST(AsyncGeneratorStress, HundredsOfThousandsOfValuesPassInOrderOnFourWorkers) {
  const long long n = static_cast<long long>(weft::test::scaled(300'000, 1'000));
  long long wrong = weft::run(
      [n]() -> weft::Task<long long> {
        weft::AsyncGenerator<long long> gen = numbers(n);
        long long expected = 0;
        long long bad = 0;
        for (;;) {
          std::optional<long long> v = co_await gen.next();
          if (!v) break;
          bad += *v != expected;
          ++expected;
        }
        co_return bad + (expected != n);
      }(),
      virtual_clock(4));
  EXPECT_EQ(wrong, 0);
}

}  // namespace
