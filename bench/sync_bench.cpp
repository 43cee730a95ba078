// sync_bench: the sync workloads (bench/sync_workloads.hpp) as Google Benchmark
// microbenchmarks at 1 and 2 workers, each next to the same workload on plain threads
// (std::mutex / std::condition_variable, one thread per task, the threads limited to as many
// CPUs as the runtime has workers) and, for mpsc, on moodycamel::BlockingConcurrentQueue.
//
// The sizes are the Tokio peer's, smaller where a plain-thread version would start thousands
// of threads per iteration. Times are wall-clock; items_per_second counts round trips,
// messages, lock/unlock pairs or acquires.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "sync_workloads.hpp"

namespace {

constexpr std::uint64_t kPairs = 100;
constexpr std::uint64_t kRounds = 100;
constexpr std::uint64_t kPerProducer = 25'000;
constexpr std::uint64_t kMutexPerTask = 1'000;
constexpr std::uint64_t kSemTasks = 100;

weft::RuntimeOptions options_for(const benchmark::State& state) {
  weft::RuntimeOptions options;  // (not designated: GCC 12 warns about the other fields)
  options.workers = static_cast<std::size_t>(state.range(0));
  return options;
}

std::size_t cpus(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

void set_items(benchmark::State& state, std::uint64_t per_iteration) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

void BM_PingPong(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) benchmark::DoNotOptimize(rt.block_on(bench::pingpong(kPairs, kRounds)));
  set_items(state, kPairs * kRounds);
}

void BM_ThreadsPingPong(benchmark::State& state) {
  const bench::CpuLimit limit(cpus(state));
  for (auto _ : state) benchmark::DoNotOptimize(bench::threads_pingpong(kPairs, kRounds));
  set_items(state, kPairs * kRounds);
}

void BM_Mpsc(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        rt.block_on(bench::mpsc(bench::kMpscProducers, kPerProducer, bench::kMpscCapacity)));
  }
  set_items(state, bench::kMpscProducers * kPerProducer);
}

void BM_ThreadsMpsc(benchmark::State& state) {
  const bench::CpuLimit limit(cpus(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        bench::threads_mpsc(bench::kMpscProducers, kPerProducer, bench::kMpscCapacity));
  }
  set_items(state, bench::kMpscProducers * kPerProducer);
}

void BM_MoodycamelMpsc(benchmark::State& state) {
  const bench::CpuLimit limit(cpus(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        bench::moodycamel_mpsc(bench::kMpscProducers, kPerProducer, bench::kMpscCapacity));
  }
  set_items(state, bench::kMpscProducers * kPerProducer);
}

void BM_Mutex(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        rt.block_on(bench::mutex_contended(bench::kMutexTasks, kMutexPerTask)));
  }
  set_items(state, bench::kMutexTasks * kMutexPerTask);
}

void BM_ThreadsMutex(benchmark::State& state) {
  const bench::CpuLimit limit(cpus(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(bench::threads_mutex_contended(bench::kMutexTasks, kMutexPerTask));
  }
  set_items(state, bench::kMutexTasks * kMutexPerTask);
}

void BM_Semaphore(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        rt.block_on(bench::semaphore_contended(bench::kSemPermits, kSemTasks, bench::kSemPerTask)));
  }
  set_items(state, kSemTasks * bench::kSemPerTask);
}

void BM_ThreadsSemaphore(benchmark::State& state) {
  const bench::CpuLimit limit(cpus(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        bench::threads_semaphore_contended(bench::kSemPermits, kSemTasks, bench::kSemPerTask));
  }
  set_items(state, kSemTasks * bench::kSemPerTask);
}

// weft::Pool<T> (asyncpg's pool, deadpool): `tasks` tasks each acquire and release an object
// of a pool of kPoolSize `per_task` times. Uncontended: as many tasks as objects, nothing
// held across an await, so every acquire finds an idle object (the lock, the idle list, the
// lease). Contended: kSemTasks tasks yield while they hold one, as in BM_Semaphore, so most
// acquires wait and are handed an object by a release.
constexpr std::size_t kPoolSize = 4;
constexpr std::uint64_t kPoolPerTask = 10'000;

weft::Task<std::uint64_t> pool_user(weft::Pool<int>* pool, std::uint64_t n, bool hold) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto lease = co_await pool->acquire();
    benchmark::DoNotOptimize(*lease);
    if (hold) co_await weft::yield_now();
  }
  co_return n;
}

weft::Task<std::uint64_t> pool_workload(std::uint64_t tasks, std::uint64_t per_task, bool hold) {
  weft::PoolHooks<int> hooks;
  hooks.create = []() -> weft::Task<int> { co_return 7; };
  weft::PoolOptions options;
  options.max_size = kPoolSize;
  weft::Pool<int> pool(std::move(hooks), std::move(options));
  std::vector<weft::JoinHandle<std::uint64_t>> hs;
  hs.reserve(tasks);
  for (std::uint64_t t = 0; t < tasks; ++t)
    hs.push_back(weft::spawn(pool_user(&pool, per_task, hold)));
  std::uint64_t ops = 0;
  for (auto& h : hs) ops += co_await h;
  bench::check(pool.size() <= kPoolSize && pool.in_use() == 0 && ops == tasks * per_task,
               "pool: objects or ops lost");
  co_return ops;
}

void BM_PoolUncontended(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(pool_workload(kPoolSize, kPoolPerTask, false)));
  }
  set_items(state, kPoolSize * kPoolPerTask);
}

void BM_PoolContended(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(pool_workload(kSemTasks, bench::kSemPerTask, true)));
  }
  set_items(state, kSemTasks * bench::kSemPerTask);
}

void at_1_and_2_workers(benchmark::internal::Benchmark* b) {
  b->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_PingPong)->Apply(at_1_and_2_workers);
BENCHMARK(BM_ThreadsPingPong)->Apply(at_1_and_2_workers);
BENCHMARK(BM_Mpsc)->Apply(at_1_and_2_workers);
BENCHMARK(BM_ThreadsMpsc)->Apply(at_1_and_2_workers);
BENCHMARK(BM_MoodycamelMpsc)->Apply(at_1_and_2_workers);
BENCHMARK(BM_Mutex)->Apply(at_1_and_2_workers);
BENCHMARK(BM_ThreadsMutex)->Apply(at_1_and_2_workers);
BENCHMARK(BM_Semaphore)->Apply(at_1_and_2_workers);
BENCHMARK(BM_ThreadsSemaphore)->Apply(at_1_and_2_workers);
BENCHMARK(BM_PoolUncontended)->Apply(at_1_and_2_workers);
BENCHMARK(BM_PoolContended)->Apply(at_1_and_2_workers);

}  // namespace

BENCHMARK_MAIN();
