// runtime_bench: the peer workloads (bench/workloads.hpp) as Google Benchmark
// microbenchmarks, at 1 and 2 workers, with oneTBB's task_group running the same fork-join
// shapes in the same binary (BM_TbbTaskGroupSpawn next to BM_SpawnJoin, BM_TbbFib next to
// BM_Fib), and BM_SpawnJoinWithTaskLocal next to BM_SpawnJoin for what a TaskLocal set in the
// spawning task costs each spawn.
//
// Each benchmark builds one runtime (or task_arena) with `workers` threads outside the timed
// loop; one iteration runs the workload once at a size much smaller than the peer's, and
// Google Benchmark repeats it. Times are wall-clock (UseRealTime: the work happens on the
// workers, not on the benchmark thread); items_per_second counts the workload's operations.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "workloads.hpp"

namespace {

constexpr std::uint64_t kSpawns = 100'000;
constexpr std::uint64_t kExternalSpawns = 50'000;
constexpr std::uint64_t kYieldTasks = 100;
constexpr std::uint64_t kYieldsPerTask = 1'000;
constexpr std::uint64_t kChainLength = 100'000;
constexpr unsigned kFibN = 22;
constexpr std::uint64_t kSleepTasks = 10'000;
constexpr std::uint64_t kSleepMaxMs = 10;
constexpr std::uint64_t kFanoutWidth = 10'000;

weft::RuntimeOptions options_for(const benchmark::State& state) {
  weft::RuntimeOptions options;  // (not designated: GCC 12 warns about the other fields)
  options.workers = static_cast<std::size_t>(state.range(0));
  return options;
}

void set_items(benchmark::State& state, std::uint64_t per_iteration) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

void BM_SpawnJoin(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) benchmark::DoNotOptimize(rt.block_on(bench::spawn_join(kSpawns)));
  set_items(state, kSpawns);
}

// BM_SpawnJoin from a task that has set a TaskLocal: every spawn copies the context pointer
// and takes a reference on it (one atomic counter shared by all the children).
const weft::TaskLocal<std::uint64_t> request_id{"request_id"};

weft::Task<std::uint64_t> spawn_join_with_a_task_local(std::uint64_t n) {
  request_id.set(n);
  co_return co_await bench::spawn_join(n);
}

void BM_SpawnJoinWithTaskLocal(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(spawn_join_with_a_task_local(kSpawns)));
  }
  set_items(state, kSpawns);
}

void BM_SpawnExternal(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) benchmark::DoNotOptimize(bench::spawn_external(rt, kExternalSpawns));
  set_items(state, kExternalSpawns);
}

void BM_YieldMany(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(bench::yield_many(kYieldTasks, kYieldsPerTask)));
  }
  set_items(state, kYieldTasks * kYieldsPerTask);
}

void BM_Chain(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) benchmark::DoNotOptimize(bench::chain(rt, kChainLength));
  set_items(state, kChainLength);
}

void BM_Fib(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) benchmark::DoNotOptimize(rt.block_on(bench::fib(kFibN)));
  set_items(state, bench::fib_spawn_count(kFibN));
}

// Mostly sleeping (about kSleepMaxMs per iteration): shows the timer overhead on top.
void BM_SleepMany(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(bench::sleep_many(kSleepTasks, kSleepMaxMs)));
  }
  set_items(state, kSleepTasks);
}

void BM_GatherFanout(benchmark::State& state) {
  weft::Runtime rt(options_for(state));
  for (auto _ : state) {
    benchmark::DoNotOptimize(rt.block_on(bench::gather_fanout(kFanoutWidth, 1)));
  }
  set_items(state, kFanoutWidth);
}

void BM_TbbTaskGroupSpawn(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(state.range(0)));
  bench::tbb_warm_up(arena);
  for (auto _ : state) benchmark::DoNotOptimize(bench::tbb_spawn_join(arena, kSpawns));
  set_items(state, kSpawns);
}

void BM_TbbFib(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(state.range(0)));
  bench::tbb_warm_up(arena);
  for (auto _ : state) benchmark::DoNotOptimize(bench::tbb_fib(arena, kFibN));
  set_items(state, bench::fib_spawn_count(kFibN));
}

void at_1_and_2_workers(benchmark::internal::Benchmark* b) {
  b->ArgName("workers")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_SpawnJoin)->Apply(at_1_and_2_workers);
BENCHMARK(BM_SpawnJoinWithTaskLocal)->Apply(at_1_and_2_workers);
BENCHMARK(BM_TbbTaskGroupSpawn)->Apply(at_1_and_2_workers);
BENCHMARK(BM_SpawnExternal)->Apply(at_1_and_2_workers);
BENCHMARK(BM_YieldMany)->Apply(at_1_and_2_workers);
BENCHMARK(BM_Chain)->Apply(at_1_and_2_workers);
BENCHMARK(BM_Fib)->Apply(at_1_and_2_workers);
BENCHMARK(BM_TbbFib)->Apply(at_1_and_2_workers);
BENCHMARK(BM_SleepMany)->Apply(at_1_and_2_workers);
BENCHMARK(BM_GatherFanout)->Apply(at_1_and_2_workers);

}  // namespace

BENCHMARK_MAIN();
