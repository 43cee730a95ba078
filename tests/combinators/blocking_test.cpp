// to_thread (asyncio.to_thread) and offload (CPU work in a oneTBB arena): values and
// exceptions back to the task, f running off the workers, the blocking pool growing for
// calls that block on each other and staying under its cap, tbb::parallel_for inside
// offload, cancellation waiting for a running f, the virtual clock after a blocking call, and
// detail::spawn_blocking (run waits for it; off a worker it runs at once).
//
// Functions that must block wait on a Gate with a real-time limit (30 s), so a broken pool
// fails the test instead of hanging it; nothing sleeps to wait for a race.
#include <gtest/gtest.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "stress_scale.hpp"

using namespace std::chrono_literals;

namespace {

weft::RuntimeOptions virtual_clock(std::size_t workers) {
  return {.workers = workers, .clock = weft::ClockKind::Virtual};
}

/// How long a blocking function waits for the others before it gives up (real time).
constexpr auto kGiveUp = 30s;

/// A function's own failure, so a test can tell it from anything weft throws.
struct WorkError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A one-shot signal between plain threads: open() once, wait() with a real-time limit.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  /// True if the gate opened within the limit.
  bool wait() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kGiveUp, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// ---- to_thread: values and errors -----------------------------------------------------------

TEST(ToThread, ReturnsTheFunctionsValue) {
  int v = weft::run(
      []() -> weft::Task<int> { co_return co_await weft::to_thread([] { return 6 * 7; }); }(),
      virtual_clock(1));
  EXPECT_EQ(v, 42);
}

TEST(ToThread, ReturnsMoveOnlyValuesAndRunsVoidFunctions) {
  std::atomic<int> ran{0};
  std::string s = weft::run(
      [&]() -> weft::Task<std::string> {
        co_await weft::to_thread([&] { ran.fetch_add(1); });
        std::unique_ptr<std::string> p =
            co_await weft::to_thread([] { return std::make_unique<std::string>("boxed"); });
        co_return *p;
      }(),
      virtual_clock(1));
  EXPECT_EQ(s, "boxed");
  EXPECT_EQ(ran.load(), 1);
}

TEST(ToThread, RethrowsTheFunctionsException) {
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::to_thread([]() -> int { throw WorkError("blocking call failed"); });
        } catch (const WorkError& e) {
          message = e.what();
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(message, "blocking call failed");
}

TEST(ToThread, RunsTheFunctionOnAThreadThatIsNotAWorker) {
  for (std::size_t workers : {1u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::thread::id task_thread;
    std::thread::id f_thread;
    bool task_in_runtime = false;
    bool f_in_runtime = true;
    weft::run(
        [&]() -> weft::Task<void> {
          task_thread = std::this_thread::get_id();
          task_in_runtime = weft::in_runtime();
          co_await weft::to_thread([&] {
            f_thread = std::this_thread::get_id();
            f_in_runtime = weft::in_runtime();
          });
        }(),
        virtual_clock(workers));
    EXPECT_TRUE(task_in_runtime);
    EXPECT_FALSE(f_in_runtime);
    EXPECT_NE(f_thread, task_thread);
    EXPECT_NE(f_thread, std::thread::id());
  }
}

// ---- the pool -------------------------------------------------------------------------------

/// A rendezvous of `n` plain threads: each arrives, then waits (bounded) for all n.
class Rendezvous {
 public:
  explicit Rendezvous(int n) : n_(n) {}
  /// True if all n arrived within the limit.
  bool arrive_and_wait() {
    std::unique_lock lk(mu_);
    if (++arrived_ == n_) cv_.notify_all();
    return cv_.wait_for(lk, kGiveUp, [&] { return arrived_ >= n_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  const int n_;
};

weft::Task<bool> meet_in_to_thread(Rendezvous& r) {
  co_return co_await weft::to_thread([&r] { return r.arrive_and_wait(); });
}

TEST(ToThread, SixtyFourCallsThatNeedEachOtherAllRunAtOnce) {
  // Each call blocks until all 64 are inside f: only a pool that grows to 64 threads lets
  // them meet; otherwise they give up after the limit and the test fails.
  for (std::size_t workers : {1u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    constexpr int kCalls = 64;
    Rendezvous r(kCalls);
    std::vector<bool> met = weft::run(
        [&]() -> weft::Task<std::vector<bool>> {
          std::vector<weft::Task<bool>> calls;
          for (int i = 0; i < kCalls; ++i) calls.push_back(meet_in_to_thread(r));
          co_return co_await weft::gather(std::move(calls));
        }(),
        virtual_clock(workers));
    EXPECT_EQ(std::count(met.begin(), met.end(), true), kCalls);
  }
}

/// Tracks how many functions run at once. The first ones wait (bounded) until `batch` are
/// inside at once (or every call has started), so the pool's full concurrency is reached
/// whatever the timing; later ones pass straight through.
class ConcurrencyProbe {
 public:
  ConcurrencyProbe(int batch, int total) : batch_(batch), total_(total) {}
  bool enter_and_leave() {
    std::unique_lock lk(mu_);
    ++inside_;
    ++started_;
    max_inside_ = std::max(max_inside_, inside_);
    if (inside_ >= batch_) seen_batch_ = true;
    cv_.notify_all();
    bool ok = cv_.wait_for(lk, kGiveUp, [&] { return seen_batch_ || started_ == total_; });
    --inside_;
    return ok;
  }
  int max_inside() {
    std::lock_guard lk(mu_);
    return max_inside_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  int started_ = 0;
  int max_inside_ = 0;
  bool seen_batch_ = false;
  const int batch_;
  const int total_;
};

weft::Task<bool> probe_in_to_thread(ConcurrencyProbe& p) {
  co_return co_await weft::to_thread([&p] { return p.enter_and_leave(); });
}

TEST(ToThread, NeverRunsMoreFunctionsAtOnceThanMaxBlockingThreads) {
  constexpr int kCalls = 32;
  constexpr int kCap = 4;
  ConcurrencyProbe probe(kCap, kCalls);
  weft::RuntimeOptions options = virtual_clock(2);
  options.max_blocking_threads = kCap;
  std::vector<bool> ok = weft::run(
      [&]() -> weft::Task<std::vector<bool>> {
        std::vector<weft::Task<bool>> calls;
        for (int i = 0; i < kCalls; ++i) calls.push_back(probe_in_to_thread(probe));
        co_return co_await weft::gather(std::move(calls));
      }(),
      options);
  EXPECT_EQ(std::count(ok.begin(), ok.end(), true), kCalls);
  EXPECT_EQ(probe.max_inside(), kCap);
}

// ---- offload --------------------------------------------------------------------------------

TEST(Offload, RunsTheFunctionWhichMayUseParallelForAndReturnsItsValue) {
  constexpr long long kN = 1'000'000;
  bool f_in_runtime = true;
  long long sum = weft::run(
      [&]() -> weft::Task<long long> {
        co_return co_await weft::offload([&] {
          f_in_runtime = weft::in_runtime();
          std::vector<long long> v(kN);
          tbb::parallel_for(tbb::blocked_range<long long>(0, kN), [&](const auto& r) {
            for (long long i = r.begin(); i != r.end(); ++i) v[i] = i;
          });
          return tbb::parallel_reduce(
              tbb::blocked_range<long long>(0, kN), 0LL,
              [&](const auto& r, long long acc) {
                for (long long i = r.begin(); i != r.end(); ++i) acc += v[i];
                return acc;
              },
              [](long long a, long long b) { return a + b; });
        });
      }(),
      virtual_clock(2));
  EXPECT_EQ(sum, kN * (kN - 1) / 2);
  EXPECT_FALSE(f_in_runtime);
}

TEST(Offload, RethrowsTheFunctionsException) {
  std::string message;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::offload([] { throw WorkError("cpu work failed"); });
        } catch (const WorkError& e) {
          message = e.what();
        }
      }(),
      virtual_clock(1));
  EXPECT_EQ(message, "cpu work failed");
}

weft::Task<int> offload_double(int i) {
  co_return co_await weft::offload([i] { return i * 2; });
}

TEST(Offload, ManyConcurrentCallsFromFourWorkersAllReturn) {
  constexpr int n = 200;
  std::vector<int> values = weft::run(
      []() -> weft::Task<std::vector<int>> {
        std::vector<weft::Task<int>> calls;
        for (int i = 0; i < n; ++i) {
          calls.push_back(offload_double(i));
        }
        co_return co_await weft::gather(std::move(calls));
      }(),
      virtual_clock(4));
  ASSERT_EQ(values.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(values[i], i * 2);
}

// ---- cancellation ---------------------------------------------------------------------------

/// What the task blocked in to_thread/offload saw.
struct BlockLog {
  Gate started;
  Gate release;
  std::atomic<bool> f_returned{false};
  std::atomic<bool> caught{false};
  std::atomic<bool> f_had_returned_when_caught{false};
  std::atomic<bool> resumed_normally{false};
};

/// Awaits to_thread (or offload) of a function that blocks until released.
weft::Task<void> block_until_released(BlockLog& log, bool cpu) {
  auto f = [&log] {
    log.started.open();
    bool released = log.release.wait();
    log.f_returned.store(true);
    return released;
  };
  try {
    if (cpu) {
      (void)co_await weft::offload(f);
    } else {
      (void)co_await weft::to_thread(f);
    }
    log.resumed_normally.store(true);
  } catch (const weft::CancelledError&) {
    log.f_had_returned_when_caught.store(log.f_returned.load());
    log.caught.store(true);
    throw;
  }
}

/// Starts block_until_released, cancels it while f runs, lets the worker run other tasks,
/// then releases f. Returns whether the cancelled task had been resumed before the release.
weft::Task<bool> cancel_while_f_runs(BlockLog& log, bool cpu) {
  weft::JoinHandle<void> h = weft::spawn(block_until_released(log, cpu));
  bool started = co_await weft::to_thread([&log] { return log.started.wait(); });
  EXPECT_TRUE(started);
  h.cancel();
  for (int i = 0; i < 20; ++i) co_await weft::yield_now();  // a wrongly resumed task runs here
  bool resumed_early = log.caught.load() || log.resumed_normally.load();
  log.release.open();
  EXPECT_THROW(co_await h, weft::CancelledError);
  co_return resumed_early;
}

TEST(ToThread, CancellingTheAwaitingTaskWaitsForTheFunctionThenRaisesCancelledError) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    BlockLog log;
    bool resumed_early = weft::run(cancel_while_f_runs(log, false), virtual_clock(workers));
    EXPECT_FALSE(resumed_early);
    EXPECT_TRUE(log.caught.load());
    EXPECT_TRUE(log.f_had_returned_when_caught.load());
    EXPECT_FALSE(log.resumed_normally.load());
  }
}

TEST(Offload, CancellingTheAwaitingTaskWaitsForTheFunctionThenRaisesCancelledError) {
  for (std::size_t workers : {1u, 2u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    BlockLog log;
    bool resumed_early = weft::run(cancel_while_f_runs(log, true), virtual_clock(workers));
    EXPECT_FALSE(resumed_early);
    EXPECT_TRUE(log.caught.load());
    EXPECT_TRUE(log.f_had_returned_when_caught.load());
  }
}

weft::Task<void> sleep_for(weft::Duration d) {
  co_await weft::sleep(d);
}

/// Gets a cancellation while shielded, so it is pending when to_thread is awaited.
weft::Task<void> to_thread_with_a_pending_cancel(std::atomic<int>& f_runs) {
  co_await weft::shield(sleep_for(1s));
  co_await weft::to_thread([&f_runs] { f_runs.fetch_add(1); });
}

TEST(ToThread, InATaskWithAPendingCancellationNeverStartsTheFunction) {
  std::atomic<int> f_runs{0};
  weft::run(
      [&]() -> weft::Task<void> {
        weft::JoinHandle<void> h = weft::spawn(to_thread_with_a_pending_cancel(f_runs));
        co_await weft::sleep(500ms);
        h.cancel();
        EXPECT_THROW(co_await h, weft::CancelledError);
      }(),
      virtual_clock(2));
  EXPECT_EQ(f_runs.load(), 0);
}

TEST(ToThread, UnderAnExpiredTimeoutNeverStartsTheFunction) {
  std::atomic<int> f_runs{0};
  bool timed_out = false;
  weft::run(
      [&]() -> weft::Task<void> {
        try {
          co_await weft::wait_for(weft::to_thread([&f_runs] { f_runs.fetch_add(1); }), 0s);
        } catch (const weft::TimeoutError&) {
          timed_out = true;
        }
      }(),
      virtual_clock(1));
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(f_runs.load(), 0);
}

// ---- the virtual clock ----------------------------------------------------------------------

TEST(ToThread, ASleepAfterItStillWorksOnTheVirtualClock) {
  for (std::size_t workers : {1u, 2u, 4u}) {
    SCOPED_TRACE(testing::Message() << workers << " workers");
    std::vector<weft::Duration> at;
    weft::run(
        [&]() -> weft::Task<void> {
          weft::TimePoint start = weft::now();
          for (int i = 0; i < 5; ++i) {
            int v = co_await weft::to_thread([i] { return i; });
            EXPECT_EQ(v, i);
            co_await weft::sleep(1s);
            at.push_back(weft::now() - start);
          }
          co_await weft::offload([] {});
          co_await weft::sleep(1s);
          at.push_back(weft::now() - start);
        }(),
        virtual_clock(workers));
    EXPECT_EQ(at, (std::vector<weft::Duration>{1s, 2s, 3s, 4s, 5s, 6s}));
  }
}

weft::Task<void> record_wake_up(weft::Duration d, weft::TimePoint start,
                                std::vector<weft::Duration>& woke, std::mutex& mu) {
  co_await weft::sleep(d);
  std::lock_guard lk(mu);
  woke.push_back(weft::now() - start);
}

TEST(ToThread, SleepersInOtherTasksWakeAtTheirTimesAroundBlockingCalls) {
  std::vector<weft::Duration> woke;
  std::mutex mu;
  weft::run(
      [&]() -> weft::Task<void> {
        weft::TimePoint start = weft::now();
        std::vector<weft::JoinHandle<void>> sleepers;
        for (int s = 1; s <= 3; ++s) {
          sleepers.push_back(weft::spawn(record_wake_up(s * 1s, start, woke, mu)));
        }
        for (int i = 0; i < 3; ++i) (void)co_await weft::to_thread([] { return 0; });
        for (auto& h : sleepers) co_await h;
      }(),
      virtual_clock(2));
  EXPECT_EQ(woke, (std::vector<weft::Duration>{1s, 2s, 3s}));
}

// ---- stress ---------------------------------------------------------------------------------

weft::Task<long long> to_thread_value(int i) {
  co_return co_await weft::to_thread([i] { return static_cast<long long>(i); });
}

TEST(ToThreadStress, ThousandsOfCallsFromFourWorkersAllReturnTheirValues) {
  const int n = static_cast<int>(weft::test::scaled(5'000, 100));
  std::vector<long long> values = weft::run(
      [n]() -> weft::Task<std::vector<long long>> {
        std::vector<weft::Task<long long>> calls;
        calls.reserve(n);
        for (int i = 0; i < n; ++i) calls.push_back(to_thread_value(i));
        co_return co_await weft::gather(std::move(calls));
      }(),
      virtual_clock(4));
  ASSERT_EQ(values.size(), static_cast<std::size_t>(n));
  long long wrong = 0;
  for (int i = 0; i < n; ++i) wrong += values[i] != i;
  EXPECT_EQ(wrong, 0);
}

}  // namespace

namespace {

/// Counts its live copies, so a test can see every copy destroyed exactly once.
struct Counted {
  explicit Counted(std::atomic<int>& live) : live_(&live) { live_->fetch_add(1); }
  Counted(const Counted& o) : live_(o.live_) { live_->fetch_add(1); }
  Counted& operator=(const Counted&) = delete;
  ~Counted() { live_->fetch_sub(1); }
  std::atomic<int>* live_;
};

}  // namespace

TEST(ToThread, ANamedCallableAndAStdRefAreEachDestroyedOncePerCopy) {
  std::atomic<int> live{0};
  weft::run(
      [](std::atomic<int>& live) -> weft::Task<void> {
        Counted c(live);
        auto job = [c] { return c.live_ != nullptr; };
        EXPECT_TRUE(co_await weft::to_thread(job));            // copied in, copy destroyed
        EXPECT_TRUE(co_await weft::to_thread(std::ref(job)));  // not copied
        EXPECT_TRUE(co_await weft::offload(job));
        EXPECT_EQ(live.load(), 2);  // c and job's capture
      }(live),
      {.workers = 2});
  EXPECT_EQ(live.load(), 0);
}

// ---- spawn_blocking: pool work nobody awaits (destructors on workers) -----------------------

TEST(SpawnBlocking, AJobSpawnedOnAWorkerRunsOffTheWorkersAndRunReturnsOnlyAfterIt) {
  Gate started;
  Gate finish;
  std::atomic<bool> job_in_runtime{true};
  std::atomic<bool> done{false};
  // The job holds its pool thread until it has started and this thread lets it go, so it is
  // still running when the task that spawned it (the only one) has finished.
  std::thread releaser([&] {
    EXPECT_TRUE(started.wait());
    finish.open();
  });
  weft::run(
      [&]() -> weft::Task<void> {
        weft::detail::spawn_blocking([&]() noexcept {
          job_in_runtime = weft::in_runtime();
          started.open();
          EXPECT_TRUE(finish.wait());
          done = true;
        });
        co_return;
      }(),
      virtual_clock(1));
  EXPECT_TRUE(done.load()) << "run returned before the job finished";
  EXPECT_FALSE(job_in_runtime.load());
  releaser.join();
}

TEST(SpawnBlocking, OffAWorkerTheJobRunsAtOnceOnTheCallingThread) {
  std::thread::id ran_on;
  weft::detail::spawn_blocking([&]() noexcept { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());  // a plain thread
  bool inline_on_pool_thread = weft::run(
      []() -> weft::Task<bool> {
        co_return co_await weft::to_thread([] {
          std::thread::id job_thread;
          weft::detail::spawn_blocking(
              [&job_thread]() noexcept { job_thread = std::this_thread::get_id(); });
          return job_thread == std::this_thread::get_id();
        });
      }(),
      virtual_clock(1));
  EXPECT_TRUE(inline_on_pool_thread);  // a blocking-pool thread
}
