// weft-bench-peer: weft's (and oneTBB's) side of the peer benchmarks.
//
// The same command line and output as the Tokio peer (bench/peers/tokio), so tools/bench
// can run both and compare them line by line:
//
//   weft-bench-peer [--impl weft|tbb|threads|moodycamel] --bench NAME --workers N [--iters K]
//                   [--metrics] [--sample-every N] [--stall-ms N] [--trace] [--trace-out F]
//   weft-bench-peer [--impl weft|tbb|threads|moodycamel] --list
//
// Each invocation builds the runtime (a weft::Runtime with N workers, or a tbb::task_arena of
// concurrency N; the plain-thread implementations pin the process to N CPUs instead), runs
// one workload K times (default 1; bench/workloads.hpp, bench/sync_workloads.hpp), and
// prints one line with the median run's time:
//
//   RESULT impl=weft bench=NAME workers=N ops=<count> wall_s=<s> ns_per_op=<f> peak_rss_kb=<kb>
//
// Timing covers only the workload. In-runtime workloads are timed inside their root task,
// as the Tokio peer does. peak_rss_kb is getrusage's ru_maxrss, taken right after the
// workload. An unknown bench, or one the chosen implementation lacks, exits with status 2;
// a workload whose result is wrong exits with status 1. With --metrics (weft only), each
// worker's counters (polls, steals, parks, timers, epoll events; summed over the K runs)
// go to stderr as `METRICS worker=i ...` lines: where the time went, beside the time. With
// --trace (weft only) the runtime traces every run (what tracing on costs); --trace-out F
// also writes the trace (Chrome JSON) to F after the runs.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sync_workloads.hpp"
#include "workloads.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Measured {
  std::uint64_t ops = 0;
  Clock::duration wall{};
};

/// A measured run plus the peak RSS right after it.
struct Outcome {
  Measured m;
  long peak_rss_kb = -1;
};

// The Tokio peer's sizes.
constexpr std::uint64_t kSpawnJoinTasks = 1'000'000;
constexpr std::uint64_t kSpawnExternalTasks = 200'000;
constexpr std::uint64_t kYieldTasks = 200;
constexpr std::uint64_t kYieldsPerTask = 1'000;
constexpr std::uint64_t kChainLength = 1'000'000;
constexpr unsigned kFibN = 27;
constexpr std::uint64_t kSleepTasks = 100'000;
constexpr std::uint64_t kSleepMaxMs = 100;
constexpr std::uint64_t kFanoutWidth = 10'000;
constexpr std::uint64_t kFanoutRounds = 10;

/// Runs `work` as the root task on a worker and times it there.
weft::Task<Measured> timed(weft::Task<std::uint64_t> work) {
  const auto start = Clock::now();
  const std::uint64_t ops = co_await std::move(work);
  co_return Measured{ops, Clock::now() - start};
}

/// Times a workload that drives the runtime from this thread.
template <class F>
Measured timed_here(F&& work) {
  const auto start = Clock::now();
  const std::uint64_t ops = work();
  return Measured{ops, Clock::now() - start};
}

Measured weft_spawn_join(weft::Runtime& rt) {
  return rt.block_on(timed(bench::spawn_join(kSpawnJoinTasks)));
}
Measured weft_spawn_external(weft::Runtime& rt) {
  return timed_here([&] { return bench::spawn_external(rt, kSpawnExternalTasks); });
}
Measured weft_yield_many(weft::Runtime& rt) {
  return rt.block_on(timed(bench::yield_many(kYieldTasks, kYieldsPerTask)));
}
Measured weft_chain(weft::Runtime& rt) {
  return timed_here([&] { return bench::chain(rt, kChainLength); });
}
Measured weft_fib(weft::Runtime& rt) {
  return rt.block_on(timed(bench::fib(kFibN)));
}
Measured weft_sleep_many(weft::Runtime& rt) {
  return rt.block_on(timed(bench::sleep_many(kSleepTasks, kSleepMaxMs)));
}
Measured weft_gather_fanout(weft::Runtime& rt) {
  return rt.block_on(timed(bench::gather_fanout(kFanoutWidth, kFanoutRounds)));
}

Measured tbb_spawn_join(tbb::task_arena& arena) {
  return timed_here([&] { return bench::tbb_spawn_join(arena, kSpawnJoinTasks); });
}
Measured tbb_fib(tbb::task_arena& arena) {
  return timed_here([&] { return bench::tbb_fib(arena, kFibN); });
}

Measured weft_pingpong(weft::Runtime& rt) {
  return rt.block_on(timed(bench::pingpong(bench::kPingPongPairs, bench::kPingPongRounds)));
}
Measured weft_mpsc(weft::Runtime& rt) {
  return rt.block_on(
      timed(bench::mpsc(bench::kMpscProducers, bench::kMpscPerProducer, bench::kMpscCapacity)));
}
Measured weft_mutex(weft::Runtime& rt) {
  return rt.block_on(timed(bench::mutex_contended(bench::kMutexTasks, bench::kMutexPerTask)));
}
Measured weft_semaphore(weft::Runtime& rt) {
  return rt.block_on(
      timed(bench::semaphore_contended(bench::kSemPermits, bench::kSemTasks, bench::kSemPerTask)));
}

Measured threads_pingpong() {
  return timed_here(
      [] { return bench::threads_pingpong(bench::kPingPongPairs, bench::kPingPongRounds); });
}
Measured threads_mpsc() {
  return timed_here([] {
    return bench::threads_mpsc(bench::kMpscProducers, bench::kMpscPerProducer,
                               bench::kMpscCapacity);
  });
}
Measured moodycamel_mpsc() {
  return timed_here([] {
    return bench::moodycamel_mpsc(bench::kMpscProducers, bench::kMpscPerProducer,
                                  bench::kMpscCapacity);
  });
}
Measured threads_mutex() {
  return timed_here(
      [] { return bench::threads_mutex_contended(bench::kMutexTasks, bench::kMutexPerTask); });
}
Measured threads_semaphore() {
  return timed_here([] {
    return bench::threads_semaphore_contended(bench::kSemPermits, bench::kSemTasks,
                                              bench::kSemPerTask);
  });
}

struct Bench {
  std::string_view name;
  Measured (*weft)(weft::Runtime&);
  Measured (*tbb)(tbb::task_arena&);   ///< nullptr: no oneTBB version
  Measured (*threads)() = nullptr;     ///< plain threads, std::mutex / condition_variable
  Measured (*moodycamel)() = nullptr;  ///< plain threads, moodycamel's blocking queue
};

constexpr Bench kBenches[] = {
    {"spawn_join", weft_spawn_join, tbb_spawn_join},
    {"spawn_external", weft_spawn_external, nullptr},
    {"yield_many", weft_yield_many, nullptr},
    {"chain", weft_chain, nullptr},
    {"fib", weft_fib, tbb_fib},
    {"sleep_many", weft_sleep_many, nullptr},
    {"gather_fanout", weft_gather_fanout, nullptr},
    {"pingpong", weft_pingpong, nullptr, threads_pingpong},
    {"mpsc", weft_mpsc, nullptr, threads_mpsc, moodycamel_mpsc},
    {"mutex", weft_mutex, nullptr, threads_mutex},
    {"semaphore", weft_semaphore, nullptr, threads_semaphore},
};

/// True if `b` has an implementation called `impl`.
bool has_impl(const Bench& b, std::string_view impl) {
  if (impl == "weft") return true;
  if (impl == "tbb") return b.tbb != nullptr;
  if (impl == "threads") return b.threads != nullptr;
  return b.moodycamel != nullptr;
}

long peak_rss_kb() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_maxrss;
}

constexpr const char* kUsage =
    "usage: weft-bench-peer [--impl weft|tbb|threads|moodycamel] --bench NAME --workers N "
    "[--iters K] [--metrics] [--sample-every N] [--stall-ms N] [--trace] [--trace-out F]\n"
    "       weft-bench-peer [--impl weft|tbb|threads|moodycamel] --list\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "%s\n%s", message.c_str(), kUsage);
  return 2;
}

struct Args {
  std::string impl = "weft";
  std::optional<std::string> bench;
  std::size_t workers = 0;
  std::size_t iters = 1;
  bool list = false;
  bool metrics = false;  // print each worker's counters to stderr after the runs
  // RuntimeOptions::metrics_sample_every and stall_threshold (0: off), for the A/B of
  // what the metrics and the stall detector cost.
  std::optional<std::uint32_t> sample_every;
  std::optional<std::uint32_t> stall_ms;
  bool trace = false;  // weft only: the runs are traced (Runtime::start_tracing), for its cost
  std::optional<std::string> trace_out;       // and the trace written here after them
  std::optional<std::uint32_t> trace_events;  // RuntimeOptions::trace_events_per_worker
};

/// Parses the command line into `args`; returns an exit status, or -1 to go on.
int parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    if (arg == "--list") {
      args.list = true;
    } else if (arg == "--trace") {
      args.trace = true;
    } else if (arg == "--metrics") {
      args.metrics = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--trace-out") {
      if (!inline_value && i + 1 < argc) inline_value = argv[++i];
      if (!inline_value || inline_value->empty()) return usage_error("missing value for " + arg);
      args.trace = true;
      args.trace_out = *inline_value;
    } else if (arg == "--sample-every" || arg == "--stall-ms" || arg == "--trace-events") {
      if (!inline_value && i + 1 < argc) inline_value = argv[++i];
      if (!inline_value) return usage_error("missing value for " + arg);
      char* end = nullptr;
      const unsigned long n = std::strtoul(inline_value->c_str(), &end, 10);
      if (inline_value->empty() || *end != '\0' || inline_value->front() == '-' || n > UINT32_MAX) {
        return usage_error("invalid " + arg + " value: " + *inline_value);
      }
      (arg == "--sample-every" ? args.sample_every
       : arg == "--stall-ms"   ? args.stall_ms
                               : args.trace_events) = static_cast<std::uint32_t>(n);
    } else if (arg == "--bench" || arg == "--workers" || arg == "--impl" || arg == "--iters") {
      if (!inline_value && i + 1 < argc) inline_value = argv[++i];
      if (!inline_value) return usage_error("missing value for " + arg);
      if (arg == "--bench") {
        args.bench = *inline_value;
      } else if (arg == "--impl") {
        args.impl = *inline_value;
      } else {
        char* end = nullptr;
        const unsigned long n = std::strtoul(inline_value->c_str(), &end, 10);
        if (inline_value->empty() || *end != '\0' || n == 0 || inline_value->front() == '-') {
          return usage_error("invalid " + arg + " value: " + *inline_value);
        }
        (arg == "--iters" ? args.iters : args.workers) = n;
      }
    } else {
      return usage_error("unknown argument: " + std::string(argv[i]));
    }
  }
  if (args.impl != "weft" && args.impl != "tbb" && args.impl != "threads" &&
      args.impl != "moodycamel") {
    return usage_error("unknown --impl: " + args.impl + " (weft, tbb, threads or moodycamel)");
  }
  return -1;
}

/// Builds the runtime, runs the workload, and reads the peak RSS before the runtime is torn
/// down (as the Tokio peer does).
Outcome run(const Bench& b, const Args& args) {
  // --iters K: the median of K runs in the same runtime (warm threads and allocator).
  auto median = [&](auto&& once) {
    std::vector<Measured> runs;
    for (std::size_t i = 0; i < args.iters; ++i) runs.push_back(once());
    std::sort(runs.begin(), runs.end(),
              [](const Measured& a, const Measured& b) { return a.wall < b.wall; });
    return runs[runs.size() / 2];
  };
  if (args.impl == "tbb") {
    tbb::task_arena arena(static_cast<int>(args.workers));
    bench::tbb_warm_up(arena);
    const Measured m = median([&] { return b.tbb(arena); });
    return {m, peak_rss_kb()};
  }
  if (args.impl == "threads" || args.impl == "moodycamel") {
    const bench::CpuLimit cpus(args.workers);
    const Measured m = median(args.impl == "threads" ? b.threads : b.moodycamel);
    return {m, peak_rss_kb()};
  }
  weft::RuntimeOptions options;
  options.workers = args.workers;
  if (args.sample_every) options.metrics_sample_every = *args.sample_every;
  if (args.stall_ms) options.stall_threshold = std::chrono::milliseconds(*args.stall_ms);
  if (args.trace_events) options.trace_events_per_worker = *args.trace_events;
  weft::Runtime rt(options);
  if (args.trace) rt.start_tracing();
  const Measured m = median([&] { return b.weft(rt); });
  const Outcome out{m, peak_rss_kb()};
  if (args.trace_out) std::ofstream(*args.trace_out) << rt.trace_json();
  if (args.metrics) {  // summed over every --iters run
    const auto workers = rt.metrics().workers;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const weft::WorkerMetrics& w = workers[i];
      std::fprintf(
          stderr,
          "METRICS worker=%zu polls=%llu steals=%llu parks=%llu timers_fired=%llu "
          "io_events=%llu\n",
          i, static_cast<unsigned long long>(w.polls), static_cast<unsigned long long>(w.steals),
          static_cast<unsigned long long>(w.parks), static_cast<unsigned long long>(w.timers_fired),
          static_cast<unsigned long long>(w.io_events));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (int status = parse_args(argc, argv, args); status >= 0) return status;
  if (args.list) {
    for (const Bench& b : kBenches) {
      if (has_impl(b, args.impl))
        std::printf("%.*s\n", static_cast<int>(b.name.size()), b.name.data());
    }
    return 0;
  }
  if (!args.bench) return usage_error("missing --bench");
  const Bench* bench = nullptr;
  for (const Bench& b : kBenches) {
    if (b.name == *args.bench) bench = &b;
  }
  if (!bench) {
    std::fprintf(stderr, "unknown bench: %s (use --list)\n", args.bench->c_str());
    return 2;
  }
  if (!has_impl(*bench, args.impl)) {
    std::fprintf(stderr, "bench %s has no %s implementation (use --impl %s --list)\n",
                 args.bench->c_str(), args.impl.c_str(), args.impl.c_str());
    return 2;
  }
  if (args.workers == 0) args.workers = std::max(1u, std::thread::hardware_concurrency());

  Outcome out;
  try {
    out = run(*bench, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench %s failed: %s\n", args.bench->c_str(), e.what());
    return 1;
  }
  const double wall_s = std::chrono::duration<double>(out.m.wall).count();
  const std::uint64_t ops = out.m.ops;
  const double ns_per_op = ops > 0 ? wall_s * 1e9 / static_cast<double>(ops) : 0.0;
  std::printf(
      "RESULT impl=%s bench=%s workers=%zu ops=%llu wall_s=%.6f ns_per_op=%.2f "
      "peak_rss_kb=%ld\n",
      args.impl.c_str(), args.bench->c_str(), args.workers, static_cast<unsigned long long>(ops),
      wall_s, ns_per_op, out.peak_rss_kb);
  return 0;
}
