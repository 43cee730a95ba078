// The workloads of weft's runtime benchmarks, shared by weft-bench-peer (one large run per
// process, compared with the Tokio peer in bench/peers/tokio) and runtime_bench (Google
// Benchmark, small counts, many iterations).
//
// Each workload mirrors the Tokio peer's workload of the same name (see
// bench/peers/tokio/README.md), takes its size as arguments, returns the number of
// operations it performed, and checks its own result: a wrong result ends the process with
// status 1 (check()), so a benchmark cannot silently measure nothing.
//
// Workloads that run "inside the runtime" are tasks: the caller runs them with
// Runtime::block_on, which already runs them on a worker, so their spawns come from a worker
// thread. spawn_external and chain drive the runtime from the calling (non-worker) thread.
// The oneTBB workloads (tbb_*) are the same fork-join shapes on a tbb::task_group.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <weft/runtime/gather.hpp>
#include <weft/runtime/time.hpp>
#include <weft/weft.hpp>

namespace bench {

/// Reports a failed result check on stderr and ends the process with status 1. Runtime
/// threads may still be running, so no destructors run.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "benchmark check failed: %s\n", what);
  std::fflush(stderr);
  std::_Exit(1);
}

/// Ends the process through fail(what) unless `ok`.
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

/// A one-shot completion flag a task sets and a plain thread blocks on. It must outlive
/// every task that may set it (set() touches it after the waiter may have woken), so the
/// workloads keep theirs in static storage.
class DoneFlag {
 public:
  void reset() noexcept { done_.store(false, std::memory_order_relaxed); }
  /// Release: publishes everything the setting task did before to the waiter.
  void set() noexcept {
    done_.store(true, std::memory_order_release);
    done_.notify_one();
  }
  /// Acquire: pairs with set()'s release store.
  void wait() const noexcept {
    while (!done_.load(std::memory_order_acquire)) done_.wait(false, std::memory_order_acquire);
  }

 private:
  std::atomic<bool> done_{false};
};

/// xorshift64 (Marsaglia), the Tokio peer's generator: same seed, same sleep durations.
class XorShift64 {
 public:
  explicit XorShift64(std::uint64_t seed) noexcept : x_(seed) {}
  std::uint64_t next() noexcept {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }

 private:
  std::uint64_t x_;
};

inline constexpr std::uint64_t kSleepSeed = 0x9E37'79B9'7F4A'7C15;

/// fib(n), computed directly, for checking the fork-join results.
constexpr std::uint64_t fib_value(unsigned n) {
  std::uint64_t a = 0, b = 1;
  for (unsigned i = 0; i < n; ++i) b = std::exchange(a, b) + b;
  return a;
}

/// Number of tasks the fork-join fib(n) spawns: one per call with n >= 2. With calls(n) =
/// 1 + calls(n-1) + calls(n-2) and calls(0) = calls(1) = 1, that is (calls(n) - 1) / 2.
constexpr std::uint64_t fib_spawn_count(unsigned n) {
  std::uint64_t a = 1, b = 1;  // calls(0), calls(1)
  for (unsigned i = 1; i < n; ++i) b = std::exchange(a, b) + b + 1;
  return ((n == 0 ? a : b) - 1) / 2;
}
static_assert(fib_value(27) == 196'418 && fib_spawn_count(27) == 317'810);

// spawn_join ---------------------------------------------------------------------------------

inline weft::Task<std::uint64_t> low_bits(std::uint64_t i) {
  co_return i & 7;
}

/// Spawns `n` trivial tasks, keeps the handles in a vector, awaits them in order. `n` must be
/// a multiple of 8 (the values i & 7 then sum to 28 per 8 tasks).
inline weft::Task<std::uint64_t> spawn_join(std::uint64_t n) {
  std::vector<weft::JoinHandle<std::uint64_t>> handles;
  handles.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) handles.push_back(weft::spawn(low_bits(i)));
  std::uint64_t sum = 0;
  for (auto& slot : handles) {
    weft::JoinHandle<std::uint64_t> h = std::move(slot);  // released after this iteration
    sum += co_await std::move(h);
  }
  check(sum == n / 8 * 28, "spawn_join: wrong sum of results");
  co_return n;
}

// spawn_external -----------------------------------------------------------------------------

struct ExternalState {
  std::atomic<std::uint64_t> remaining{0};
  std::atomic<std::uint64_t> ran{0};
  DoneFlag done;
};

inline weft::Task<void> external_task(ExternalState* s) {
  s->ran.fetch_add(1, std::memory_order_relaxed);
  // acq_rel: the last decrement sees every other task's increment of `ran`.
  if (s->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) s->done.set();
  co_return;
}

/// Spawns `n` detached tasks with Runtime::spawn from the calling (non-worker) thread and
/// blocks until all have run.
inline std::uint64_t spawn_external(weft::Runtime& rt, std::uint64_t n) {
  static ExternalState s;
  s.remaining.store(n, std::memory_order_relaxed);
  s.ran.store(0, std::memory_order_relaxed);
  s.done.reset();
  for (std::uint64_t i = 0; i < n; ++i) static_cast<void>(rt.spawn(external_task(&s)));
  s.done.wait();
  check(s.remaining.load(std::memory_order_relaxed) == 0, "spawn_external: tasks left");
  check(s.ran.load(std::memory_order_relaxed) == n, "spawn_external: wrong number of runs");
  return n;
}

// yield_many ---------------------------------------------------------------------------------

inline weft::Task<std::uint64_t> yielder(std::uint64_t yields) {
  std::uint64_t n = 0;
  for (std::uint64_t i = 0; i < yields; ++i) {
    co_await weft::yield_now();
    ++n;
  }
  co_return n;
}

/// `tasks` tasks each yield `per_task` times; all joined.
inline weft::Task<std::uint64_t> yield_many(std::uint64_t tasks, std::uint64_t per_task) {
  std::vector<weft::JoinHandle<std::uint64_t>> handles;
  handles.reserve(tasks);
  for (std::uint64_t i = 0; i < tasks; ++i) handles.push_back(weft::spawn(yielder(per_task)));
  std::uint64_t total = 0;
  for (auto& h : handles) total += co_await std::move(h);
  check(total == tasks * per_task, "yield_many: wrong number of yields");
  co_return tasks* per_task;
}

// chain --------------------------------------------------------------------------------------

struct ChainState {
  std::uint64_t length = 0;
  std::atomic<std::uint64_t> reached{0};
  DoneFlag done;
};

/// Link `i` of the chain: spawns link i + 1 (detached) and ends; the last link reports.
inline weft::Task<void> chain_link(std::uint64_t i, ChainState* s) {
  if (i + 1 == s->length) {
    s->reached.store(i + 1, std::memory_order_relaxed);
    s->done.set();
  } else {
    static_cast<void>(weft::spawn(chain_link(i + 1, s)));
  }
  co_return;
}

inline weft::Task<void> chain_start(ChainState* s) {
  static_cast<void>(weft::spawn(chain_link(0, s)));
  co_return;
}

/// A chain of `n` tasks, each spawned by the previous one from a worker; the calling
/// thread blocks until the last one has run.
inline std::uint64_t chain(weft::Runtime& rt, std::uint64_t n) {
  static ChainState s;
  s.length = n;
  s.reached.store(0, std::memory_order_relaxed);
  s.done.reset();
  rt.block_on(chain_start(&s));
  s.done.wait();
  check(s.reached.load(std::memory_order_relaxed) == n, "chain: the chain ended early");
  return n;
}

// fib ----------------------------------------------------------------------------------------

inline weft::Task<std::uint64_t> fib_task(unsigned n, std::atomic<std::uint64_t>* spawned) {
  if (n < 2) co_return n;
  spawned->fetch_add(1, std::memory_order_relaxed);
  weft::JoinHandle<std::uint64_t> h = weft::spawn(fib_task(n - 1, spawned));
  const std::uint64_t b = co_await fib_task(n - 2, spawned);
  const std::uint64_t a = co_await std::move(h);
  co_return a + b;
}

/// Fork-join fib(n): spawn fib(n-1), await fib(n-2) inline, join. Returns the number of
/// spawned tasks.
inline weft::Task<std::uint64_t> fib(unsigned n) {
  std::atomic<std::uint64_t> spawned{0};
  const std::uint64_t r = co_await fib_task(n, &spawned);
  check(r == fib_value(n), "fib: wrong value");
  const std::uint64_t count = spawned.load(std::memory_order_relaxed);
  check(count == fib_spawn_count(n), "fib: wrong number of spawned tasks");
  co_return count;
}

// sleep_many ---------------------------------------------------------------------------------

inline weft::Task<std::uint64_t> sleeper(std::uint64_t ms) {
  co_await weft::sleep(std::chrono::milliseconds(ms));
  co_return 1;
}

/// `tasks` tasks sleeping 1..=max_ms milliseconds (xorshift64, fixed seed); all joined.
inline weft::Task<std::uint64_t> sleep_many(std::uint64_t tasks, std::uint64_t max_ms) {
  XorShift64 rng(kSleepSeed);
  std::vector<weft::JoinHandle<std::uint64_t>> handles;
  handles.reserve(tasks);
  for (std::uint64_t i = 0; i < tasks; ++i) {
    handles.push_back(weft::spawn(sleeper(1 + rng.next() % max_ms)));
  }
  std::uint64_t done = 0;
  for (auto& slot : handles) {
    weft::JoinHandle<std::uint64_t> h = std::move(slot);
    done += co_await std::move(h);
  }
  check(done == tasks, "sleep_many: not every sleeper finished");
  co_return tasks;
}

// gather_fanout ------------------------------------------------------------------------------

inline weft::Task<std::uint64_t> identity(std::uint64_t i) {
  co_return i;
}

/// `rounds` rounds of: gather `width` tasks returning their index (each becomes a spawned
/// child of the gather).
inline weft::Task<std::uint64_t> gather_fanout(std::uint64_t width, std::uint64_t rounds) {
  for (std::uint64_t r = 0; r < rounds; ++r) {
    std::vector<weft::Task<std::uint64_t>> tasks;
    tasks.reserve(width);
    for (std::uint64_t i = 0; i < width; ++i) tasks.push_back(identity(i));
    const std::vector<std::uint64_t> values = co_await weft::gather(std::move(tasks));
    check(values.size() == width, "gather_fanout: wrong number of results");
    std::uint64_t sum = 0;
    for (std::uint64_t v : values) sum += v;
    check(sum == width * (width - 1) / 2, "gather_fanout: wrong sum of results");
  }
  co_return width* rounds;
}

// oneTBB -------------------------------------------------------------------------------------

/// Runs `n` trivial tasks in one tbb::task_group inside `arena`, then waits. Each task
/// writes its own result slot, as a spawned task fills its own handle.
inline std::uint64_t tbb_spawn_join(tbb::task_arena& arena, std::uint64_t n) {
  std::vector<std::uint64_t> results(n);
  arena.execute([&] {
    tbb::task_group g;
    for (std::uint64_t i = 0; i < n; ++i) g.run([&results, i] { results[i] = i & 7; });
    g.wait();
  });
  std::uint64_t sum = 0;
  for (std::uint64_t v : results) sum += v;
  check(sum == n / 8 * 28, "tbb spawn_join: wrong sum of results");
  return n;
}

inline std::uint64_t tbb_fib_rec(unsigned n, std::atomic<std::uint64_t>& spawned) {
  if (n < 2) return n;
  spawned.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t a = 0;
  tbb::task_group g;
  g.run([&] { a = tbb_fib_rec(n - 1, spawned); });
  const std::uint64_t b = tbb_fib_rec(n - 2, spawned);
  g.wait();
  return a + b;
}

/// Fork-join fib(n) on tbb::task_group inside `arena`: run fib(n-1) in the group, compute
/// fib(n-2) inline, wait. Returns the number of tasks run in groups.
inline std::uint64_t tbb_fib(tbb::task_arena& arena, unsigned n) {
  std::atomic<std::uint64_t> spawned{0};
  std::uint64_t r = 0;
  arena.execute([&] { r = tbb_fib_rec(n, spawned); });
  check(r == fib_value(n), "tbb fib: wrong value");
  const std::uint64_t count = spawned.load(std::memory_order_relaxed);
  check(count == fib_spawn_count(n), "tbb fib: wrong number of spawned tasks");
  return count;
}

/// Starts `arena`'s threads (an arena creates them lazily), so that timing excludes it.
inline void tbb_warm_up(tbb::task_arena& arena) {
  arena.initialize();
  std::atomic<int> ran{0};
  arena.execute([&] {
    tbb::task_group g;
    for (int i = 0; i < 4 * arena.max_concurrency(); ++i) {
      g.run([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    g.wait();
  });
  check(ran.load() == 4 * arena.max_concurrency(), "tbb warm-up: tasks lost");
}

}  // namespace bench
