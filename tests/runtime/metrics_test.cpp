// Runtime::metrics() against workloads whose counts are known: spawns, polls, parks, budget
// yields, LIFO wake-ups, the blocking pool, and the sampled histograms.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <latch>
#include <numeric>
#include <vector>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;
using weft::DurationHistogram;
using weft::RuntimeMetrics;

std::uint64_t sum_polls(const RuntimeMetrics& m) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.polls;
  return n;
}

TEST(DurationHistogram, BucketsDoubleFrom256Nanoseconds) {
  EXPECT_EQ(DurationHistogram::bucket_of(0), 0u);
  EXPECT_EQ(DurationHistogram::bucket_of(255), 0u);
  EXPECT_EQ(DurationHistogram::bucket_of(256), 1u);
  EXPECT_EQ(DurationHistogram::bucket_of(511), 1u);
  EXPECT_EQ(DurationHistogram::bucket_of(512), 2u);
  EXPECT_EQ(DurationHistogram::upper_bound_ns(0), 256u);
  EXPECT_EQ(DurationHistogram::upper_bound_ns(1), 512u);
  const std::size_t last = DurationHistogram::kBuckets - 1;
  EXPECT_EQ(DurationHistogram::bucket_of(~std::uint64_t{0}), last);
  EXPECT_EQ(DurationHistogram::bucket_of(DurationHistogram::upper_bound_ns(last - 1)), last);
  EXPECT_EQ(DurationHistogram::upper_bound_ns(last), ~std::uint64_t{0});
}

TEST(DurationHistogram, QuantilesAreBucketUpperBounds) {
  DurationHistogram h;
  EXPECT_EQ(h.quantile_ns(0.5), 0u);  // no samples
  h.buckets[0] = 90;                  // < 256 ns
  h.buckets[4] = 9;                   // [2048, 4096) ns
  h.buckets[DurationHistogram::kBuckets - 1] = 1;
  h.count = 100;
  EXPECT_EQ(h.quantile_ns(0.5), 256u);
  EXPECT_EQ(h.quantile_ns(0.9), 256u);
  EXPECT_EQ(h.quantile_ns(0.91), 4096u);
  EXPECT_EQ(h.quantile_ns(0.99), 4096u);
  // The last bucket has no upper bound: its lower bound is the answer.
  EXPECT_EQ(h.quantile_ns(1.0), DurationHistogram::upper_bound_ns(DurationHistogram::kBuckets - 2));
  DurationHistogram other;
  other.buckets[4] = 2;
  other.count = 2;
  other.sum_ns = 6000;
  h.merge(other);
  EXPECT_EQ(h.buckets[4], 11u);
  EXPECT_EQ(h.count, 102u);
  EXPECT_EQ(h.sum_ns, 6000u);
}

// Yields once, so it is polled from a queue at least once even when its joiner runs it
// inline at first (join inlining: an inline run is part of the joiner's poll).
weft::Task<int> one() {
  co_await weft::yield_now();
  co_return 1;
}

TEST(RuntimeMetrics, CountsSpawnsPollsAndCompletions) {
  weft::Runtime rt({.workers = 2});
  const RuntimeMetrics before = rt.metrics();
  constexpr int kTasks = 1000;
  const int total = rt.block_on([]() -> weft::Task<int> {
    std::vector<weft::JoinHandle<int>> hs;
    for (int i = 0; i < kTasks; ++i) hs.push_back(weft::spawn(one()));
    int n = 0;
    for (auto& h : hs) n += co_await h;
    co_return n;
  }());
  EXPECT_EQ(total, kTasks);
  const RuntimeMetrics m = rt.metrics();
  ASSERT_EQ(m.workers.size(), 2u);
  // The block_on root and every child: spawned, polled at least once, finished.
  EXPECT_GE(m.spawned_tasks - before.spawned_tasks, std::uint64_t{kTasks} + 1);
  EXPECT_GE(m.completed_tasks - before.completed_tasks, std::uint64_t{kTasks} + 1);
  EXPECT_GE(sum_polls(m) - sum_polls(before), std::uint64_t{kTasks});
  EXPECT_EQ(m.live_tasks, 0u);
  EXPECT_EQ(m.spawned_tasks - m.completed_tasks, m.live_tasks);
  EXPECT_GT(m.uptime_ns, 0u);
  for (const auto& w : m.workers) {
    EXPECT_LE(w.busy_ns + w.parked_ns, m.uptime_ns);
    EXPECT_GE(w.steals, 0u);
    EXPECT_LE(w.steals, w.steal_attempts + w.polls);  // a LIFO steal is not an attempt
  }
}

TEST(RuntimeMetrics, ParkedTimeGrowsWhileTheWorkerSleeps) {
  weft::Runtime rt({.workers = 1, .clock = weft::ClockKind::Real});
  rt.block_on([]() -> weft::Task<void> { co_await weft::sleep(5ms); }());
  const RuntimeMetrics m = rt.metrics();
  ASSERT_EQ(m.workers.size(), 1u);
  EXPECT_GE(m.workers[0].parks, 1u);
  EXPECT_GT(m.workers[0].parked_ns, 0u);
  EXPECT_GE(m.workers[0].timers_fired, 1u);
  EXPECT_GT(m.workers[0].cpu_ns, 0u);
}

TEST(RuntimeMetrics, CountsYieldsForcedByTheBudget) {
  weft::Runtime rt({.workers = 1});
  constexpr int kSteps = 128 * 20;
  rt.block_on([]() -> weft::Task<void> {
    for (int i = 0; i < kSteps; ++i) co_await weft::consume_budget();
  }());
  // A budget of 128 steps per poll: one forced yield per 128 steps (the first poll may have
  // spent a few steps before the loop).
  EXPECT_GE(rt.metrics().workers[0].budget_yields, std::uint64_t{kSteps / 128 - 1});
}

TEST(RuntimeMetrics, CountsTheLifoSlotsPolls) {
  weft::Runtime rt({.workers = 1});
  rt.block_on([]() -> weft::Task<void> {
    // A ping-pong: each side wakes the other from a running task, into the LIFO slot.
    weft::Queue<int> ping(1), pong(1);
    auto h = weft::spawn([&]() -> weft::Task<void> {
      for (int i = 0; i < 100; ++i) co_await pong.put(co_await ping.get());
    });
    for (int i = 0; i < 100; ++i) {
      co_await ping.put(i);
      (void)co_await pong.get();
    }
    co_await h;
  }());
  EXPECT_GE(rt.metrics().workers[0].lifo_polls, 100u);
}

TEST(RuntimeMetrics, ReportsTheBlockingPool) {
  weft::Runtime rt({.workers = 1, .max_blocking_threads = 1});
  weft::Event started;
  std::latch release(1);
  rt.block_on([&]() -> weft::Task<void> {
    auto first = weft::spawn([&]() -> weft::Task<void> {
      co_await weft::to_thread([&] {
        started.set();
        release.wait();
      });
    });
    auto second = weft::spawn([]() -> weft::Task<void> { co_await weft::to_thread([] {}); });
    // Once the first job runs, the one thread holds it; a yield puts this task behind the
    // second one, which has then submitted its job: it waits in the queue.
    co_await started.wait();
    co_await weft::yield_now();
    const RuntimeMetrics m = rt.metrics();
    EXPECT_EQ(m.blocking_threads, 1u);
    EXPECT_EQ(m.blocking_idle_threads, 0u);
    EXPECT_EQ(m.blocking_queue_depth, 1u);
    EXPECT_EQ(m.blocking_jobs, 2u);
    release.count_down();
    co_await first;
    co_await second;
  }());
  EXPECT_EQ(rt.metrics().blocking_queue_depth, 0u);
}

TEST(RuntimeMetrics, SamplesEveryPollAndWakeUpWhenAsked) {
  weft::Runtime rt({.workers = 1, .metrics_sample_every = 1});
  constexpr int kYields = 500;
  rt.block_on([]() -> weft::Task<void> {
    for (int i = 0; i < kYields; ++i) co_await weft::yield_now();
  }());
  const RuntimeMetrics m = rt.metrics();
  EXPECT_EQ(m.sample_every, 1u);
  // Every poll is timed, and every yield is a wake-up.
  EXPECT_GE(m.poll_duration.count, std::uint64_t{kYields});
  EXPECT_GE(m.scheduling_delay.count, std::uint64_t{kYields});
  const auto& b = m.poll_duration.buckets;
  EXPECT_EQ(std::accumulate(b.begin(), b.end(), std::uint64_t{0}), m.poll_duration.count);
  EXPECT_GT(m.poll_duration.sum_ns, 0u);
  EXPECT_GT(m.poll_duration.quantile_ns(0.99), 0u);
}

TEST(RuntimeMetrics, SamplesTheWakeUpsOfTimersBetweenPolls) {
  // A sleeping task's poll wakes nobody: the timer that wakes it later, between polls, is
  // the sampled wake-up.
  weft::Runtime rt({.workers = 1, .metrics_sample_every = 1});
  constexpr int kSleeps = 20;
  rt.block_on([]() -> weft::Task<void> {
    for (int i = 0; i < kSleeps; ++i) co_await weft::sleep(std::chrono::milliseconds(1));
  }());
  const RuntimeMetrics m = rt.metrics();
  EXPECT_GE(m.scheduling_delay.count, std::uint64_t{kSleeps});
}

TEST(RuntimeMetrics, SamplesTheFirstPollOfASpawnedTask) {
  // A spawn queues the task's start entry (its address tagged): the sampled wake-up must
  // be the task that entry starts, or its first poll is never matched.
  weft::Runtime rt({.workers = 1, .metrics_sample_every = 1});
  constexpr int kSpawns = 50;
  rt.block_on([]() -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> children;
    for (int i = 0; i < kSpawns; ++i) {
      children.push_back(weft::spawn([]() -> weft::Task<void> { co_return; }()));
      co_await weft::yield_now();  // the child, queued first, runs before this task again
    }
    for (auto& child : children) co_await child;
  }());
  EXPECT_GE(rt.metrics().scheduling_delay.count, std::uint64_t{kSpawns});
}

TEST(RuntimeMetrics, AWakeUpQueuedBehindOthersIsSampledWhenItsTurnComes) {
  // Ten tasks yield in turn on one worker: each yield queues the task behind the nine
  // others, so its first possible poll lies ten polls ahead, and every poll between is
  // timed (sample_every 1). Those polls must not take the waiting sample for expired.
  weft::Runtime rt({.workers = 1, .metrics_sample_every = 1});
  constexpr int kTasks = 10;
  constexpr int kYields = 200;
  rt.block_on([]() -> weft::Task<void> {
    std::vector<weft::JoinHandle<void>> tasks;
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(weft::spawn([]() -> weft::Task<void> {
        for (int j = 0; j < kYields; ++j) co_await weft::yield_now();
      }()));
    }
    for (auto& t : tasks) co_await t;
  }());
  // One sample at a time, each found a queue's length (ten polls) later.
  EXPECT_GE(rt.metrics().scheduling_delay.count, std::uint64_t{kTasks * kYields / 20});
}

TEST(RuntimeMetrics, SamplesNothingWhenSamplingIsOff) {
  weft::Runtime rt({.workers = 1, .metrics_sample_every = 0});
  rt.block_on([]() -> weft::Task<void> {
    for (int i = 0; i < 100; ++i) co_await weft::yield_now();
  }());
  const RuntimeMetrics m = rt.metrics();
  EXPECT_EQ(m.poll_duration.count, 0u);
  EXPECT_EQ(m.scheduling_delay.count, 0u);
  EXPECT_GE(sum_polls(m), 100u);
}

}  // namespace
