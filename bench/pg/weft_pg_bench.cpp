// weft_pg_bench: weft::pg in run_pg.py's benchmark (bench/README.md, "PostgreSQL"). One
// workload per process against the server --conninfo names:
//   select1: --conns tasks, each with its own Connection, running `SELECT 1` in a loop;
//   pk:      the same with `SELECT abalance FROM pgbench_accounts WHERE aid = $1` and a
//            random aid in 1 .. 100,000 x --scale (a `pgbench -i -s SCALE` table);
//   pool:    --tasks tasks (default 16) over one pg::Pool of --conns connections, each
//            looping acquire, `SELECT 1`, release;
//   copy:    --conns tasks, each emptying a table of its own and copying 100,000 records
//            (int4, text, float8) into it with copy_records_to_table, in a loop; the count
//            is of rows.
// Every task first runs one query untimed (connecting, preparing the statement, filling the
// pool), then all run until --seconds have passed. Prints one JSON line:
//   {"workload": W, "conns": C, "workers": N, "queries": Q, "seconds": S,
//    "queries_per_sec": R, "cpu_us_per_query": U}
// timed from the start of the loops to the end of the last one; cpu_us_per_query is this
// process's user+system CPU time (getrusage) over that span divided by the queries.
// A new workload is a function of the Workloads table below plus its entry in run_pg.py.
#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: weft_pg_bench --conninfo STR --workload select1|pk|pool|copy [--conns C] "
               "[--tasks T] [--seconds S] [--scale N] [--workers W]\n");
  std::exit(2);
}

struct Args {
  std::string conninfo;
  std::string workload;
  long conns = 1;
  long tasks = 16;
  double seconds = 5;
  long scale = 10;
  long workers = 0;  // 0: weft's default ($WEFT_WORKERS, else the CPUs)
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage();
    std::string_view v = argv[++i];
    if (k == "--conninfo") {
      a.conninfo = std::string(v);
      continue;
    }
    if (k == "--workload") {
      a.workload = std::string(v);
      continue;
    }
    if (k == "--seconds") {
      a.seconds = std::strtod(std::string(v).c_str(), nullptr);
      if (!(a.seconds > 0)) usage();
      continue;
    }
    long* target = nullptr;
    if (k == "--conns") target = &a.conns;
    if (k == "--tasks") target = &a.tasks;
    if (k == "--scale") target = &a.scale;
    if (k == "--workers") target = &a.workers;
    if (!target) usage();
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *target);
    if (ec != std::errc() || p != v.data() + v.size() || *target < 0) usage();
  }
  if (a.conninfo.empty() || a.workload.empty() || a.conns <= 0 || a.tasks <= 0) usage();
  return a;
}

/// What the timed loops share: when to start counting, when to stop, and the count.
struct Run {
  const Args& args;
  std::atomic<long> ready{0};  // tasks past their untimed first query
  std::atomic<bool> go{false};
  Clock::time_point deadline{};
  std::atomic<long> queries{0};
};

/// Waits (yielding) until every task has run its untimed query and the timer started.
weft::Task<void> start_line(Run& run) {
  run.ready.fetch_add(1, std::memory_order_acq_rel);
  while (!run.go.load(std::memory_order_acquire))
    co_await weft::sleep(std::chrono::milliseconds(1));
}

/// A small per-task generator for the random aid (xorshift64*), so tasks share no state.
struct Rng {
  std::uint64_t s;
  std::int32_t below(std::int64_t n) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<std::int32_t>((s * 2685821657736338717ULL) % static_cast<std::uint64_t>(n));
  }
};

weft::Task<void> select1_loop(Run& run, long) {
  weft::pg::Connection conn = co_await weft::pg::connect(run.args.conninfo);
  if (co_await conn.fetchval<std::int32_t>("SELECT 1") != 1) throw std::runtime_error("SELECT 1");
  co_await start_line(run);
  long n = 0;
  while (Clock::now() < run.deadline) {
    (void)co_await conn.fetchval<std::int32_t>("SELECT 1");
    ++n;
  }
  run.queries.fetch_add(n, std::memory_order_relaxed);
}

weft::Task<void> pk_loop(Run& run, long index) {
  static constexpr std::string_view kQuery = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
  const std::int64_t accounts = 100000 * run.args.scale;
  Rng rng{0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(index + 1)};
  weft::pg::Connection conn = co_await weft::pg::connect(run.args.conninfo);
  (void)co_await conn.fetchval<std::int32_t>(kQuery, std::int32_t{1});
  co_await start_line(run);
  long n = 0;
  while (Clock::now() < run.deadline) {
    const std::int32_t aid = rng.below(accounts) + 1;
    (void)co_await conn.fetchval<std::int32_t>(kQuery, aid);
    ++n;
  }
  run.queries.fetch_add(n, std::memory_order_relaxed);
}

weft::Task<void> pool_loop(Run& run, weft::pg::Pool& pool) {
  {
    auto conn = co_await pool.acquire();
    (void)co_await conn->fetchval<std::int32_t>("SELECT 1");
  }
  co_await start_line(run);
  long n = 0;
  while (Clock::now() < run.deadline) {
    auto conn = co_await pool.acquire();
    (void)co_await conn->fetchval<std::int32_t>("SELECT 1");
    ++n;
  }
  run.queries.fetch_add(n, std::memory_order_relaxed);
}

/// The copy workload's batch: kCopyRows records (an int4 id, a short text, a float8), made
/// once per task, before the timer starts.
constexpr std::int32_t kCopyRows = 100000;
using CopyRecord = std::tuple<std::int32_t, std::string, double>;

std::vector<CopyRecord> copy_records() {
  std::vector<CopyRecord> rows;
  rows.reserve(kCopyRows);
  for (std::int32_t i = 0; i < kCopyRows; ++i) {
    rows.emplace_back(i, "name " + std::to_string(i), i * 0.5);
  }
  return rows;
}

/// Empties the task's table, then copies the batch into it, until the deadline; counts rows.
weft::Task<void> copy_loop(Run& run, long index) {
  const std::string table = "bench_copy_" + std::to_string(index);
  const std::vector<std::string> columns = {"id", "name", "v"};
  const std::vector<CopyRecord> rows = copy_records();
  weft::pg::Connection conn = co_await weft::pg::connect(run.args.conninfo);
  co_await conn.execute("DROP TABLE IF EXISTS " + table + "; CREATE UNLOGGED TABLE " + table +
                        " (id int4, name text, v float8)");
  (void)co_await conn.copy_records_to_table(table, rows, columns);
  co_await start_line(run);
  long n = 0;
  while (Clock::now() < run.deadline) {
    co_await conn.execute("TRUNCATE " + table);
    n += static_cast<long>(co_await conn.copy_records_to_table(table, rows, columns));
  }
  co_await conn.execute("DROP TABLE " + table);
  run.queries.fetch_add(n, std::memory_order_relaxed);
}

/// Starts the timer once all loops are at the start line, or at once if one of them ended
/// before it (it failed: its handle rethrows when measure() awaits it).
weft::Task<void> starter(Run& run, const std::vector<weft::JoinHandle<void>>& loops) {
  auto any_ended = [&loops] {
    for (const auto& h : loops) {
      if (h.done()) return true;
    }
    return false;
  };
  const long tasks = static_cast<long>(loops.size());
  while (run.ready.load(std::memory_order_acquire) < tasks && !any_ended()) {
    co_await weft::sleep(std::chrono::milliseconds(1));
  }
  const double seconds = any_ended() ? 0.0 : run.args.seconds;
  run.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  run.go.store(true, std::memory_order_release);
}

struct Measured {
  double seconds = 0;
  double cpu = 0;
};

/// Spawns `tasks` loops made by `loop(i)`, times them from the start line to the last end.
/// `loop` is taken by value: the coroutine outlives the caller's full expression.
weft::Task<Measured> measure(Run& run, long tasks, std::function<weft::Task<void>(long)> loop) {
  std::vector<weft::JoinHandle<void>> loops;
  for (long i = 0; i < tasks; ++i) loops.push_back(weft::spawn(loop(i)));
  co_await starter(run, loops);
  const auto started = Clock::now();
  const double cpu_started = cpu_seconds();
  // Every loop is awaited, so a failure is reported once, as the first one's.
  std::exception_ptr failed;
  for (auto& h : loops) {
    try {
      co_await h;
    } catch (...) {
      if (!failed) failed = std::current_exception();
    }
  }
  if (failed) std::rethrow_exception(failed);
  Measured m;
  m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  m.cpu = cpu_seconds() - cpu_started;
  co_return m;
}

// The workloads by name: each runs its loops under measure() and returns what it measured.
using Workload = std::function<weft::Task<Measured>(Run&)>;

const std::map<std::string, Workload, std::less<>>& workloads() {
  static const std::map<std::string, Workload, std::less<>> table = {
      {"select1",
       [](Run& run) {
         return measure(run, run.args.conns, [&run](long i) { return select1_loop(run, i); });
       }},
      {"pk",
       [](Run& run) {
         return measure(run, run.args.conns, [&run](long i) { return pk_loop(run, i); });
       }},
      {"copy",
       [](Run& run) {
         return measure(run, run.args.conns, [&run](long i) { return copy_loop(run, i); });
       }},
      {"pool",
       [](Run& run) -> weft::Task<Measured> {
         weft::pg::PoolOptions po;
         po.max_size = static_cast<std::size_t>(run.args.conns);
         weft::pg::Pool pool(run.args.conninfo, std::move(po));
         std::function<weft::Task<void>(long)> loop = [&run, &pool](long) {
           return pool_loop(run, pool);
         };
         Measured m = co_await measure(run, run.args.tasks, std::move(loop));
         (void)co_await pool.close(weft::now() + std::chrono::seconds(10));
         co_return m;
       }},
  };
  return table;
}

/// Where the work ran (WEFT_PG_BENCH_METRICS=1): per worker polls, steals, parks and the
/// epoll events it delivered, to stderr.
void print_worker_metrics() {
  const auto m = weft::current_runtime().metrics().workers;
  for (std::size_t i = 0; i < m.size(); ++i) {
    std::fprintf(stderr, "worker %zu: polls %llu steals %llu parks %llu io_events %llu\n", i,
                 static_cast<unsigned long long>(m[i].polls),
                 static_cast<unsigned long long>(m[i].steals),
                 static_cast<unsigned long long>(m[i].parks),
                 static_cast<unsigned long long>(m[i].io_events));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const auto found = workloads().find(args.workload);
  if (found == workloads().end()) usage();
  weft::RuntimeOptions ro;
  ro.workers = static_cast<std::size_t>(args.workers);
  Run run{args};
  Measured m;
  std::size_t workers = 0;
  try {
    m = weft::run(
        [&]() -> weft::Task<Measured> {
          workers = weft::current_runtime().workers();
          Measured measured = co_await found->second(run);
          if (std::getenv("WEFT_PG_BENCH_METRICS") != nullptr) print_worker_metrics();
          co_return measured;
        }(),
        ro);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_pg_bench: %s\n", e.what());
    return 1;
  }
  const long q = run.queries.load();
  std::printf(
      "{\"workload\": \"%s\", \"conns\": %ld, \"workers\": %zu, \"queries\": %ld, "
      "\"seconds\": %.4f, \"queries_per_sec\": %.1f, \"cpu_us_per_query\": %.3f}\n",
      args.workload.c_str(), args.conns, workers, q, m.seconds, static_cast<double>(q) / m.seconds,
      q > 0 ? m.cpu * 1e6 / static_cast<double>(q) : 0.0);
  return 0;
}
