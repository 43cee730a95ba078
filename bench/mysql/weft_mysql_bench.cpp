// weft_mysql_bench: weft::mysql in run_mysql.py's benchmark (bench/README.md, "MySQL"). One
// workload per process against the server the WEFT_MYSQL_* variables name (as
// tests/io/mysql_run_with_server sets them):
//   select1: --conns tasks, each with its own Connection, running `SELECT 1` (a text query)
//            in a loop;
//   pk:      the same with `SELECT balance FROM bench_accounts WHERE id = ?` (a prepared
//            statement, from the connection's cache) and a random id in 1 .. 100,000.
// Every task first runs one query untimed (connecting, preparing), then all run until
// --seconds have passed. Prints one JSON line:
//   {"workload": W, "conns": C, "workers": N, "queries": Q, "seconds": S,
//    "queries_per_sec": R, "cpu_us_per_query": U}
// cpu_us_per_query is this process's user+system CPU time (getrusage) over the timed span
// divided by the queries.
#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <weft/io/mysql.hpp>
#include <weft/weft.hpp>

namespace {

using Clock = std::chrono::steady_clock;
namespace mysql = weft::mysql;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: weft_mysql_bench --workload select1|pk [--conns C] [--seconds S] "
               "[--workers W]   (server from WEFT_MYSQL_HOST, _PORT, _USER, _PASSWORD, "
               "_DATABASE)\n");
  std::exit(2);
}

struct Args {
  std::string workload;
  long conns = 1;
  double seconds = 3;
  long workers = 0;  // 0: weft's default ($WEFT_WORKERS, else the CPUs)
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--workload") {
      a.workload = v;
    } else if (k == "--seconds") {
      a.seconds = std::strtod(v.c_str(), nullptr);
    } else if (k == "--conns") {
      a.conns = std::strtol(v.c_str(), nullptr, 10);
    } else if (k == "--workers") {
      a.workers = std::strtol(v.c_str(), nullptr, 10);
    } else {
      usage();
    }
  }
  if ((a.workload != "select1" && a.workload != "pk") || a.conns <= 0 || !(a.seconds > 0)) {
    usage();
  }
  return a;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) {
    std::fprintf(stderr, "weft_mysql_bench: %s is not set\n", name);
    std::exit(2);
  }
  return v;
}

mysql::ConnectOptions options() {
  mysql::ConnectOptions o;
  o.host = env("WEFT_MYSQL_HOST");
  o.port = static_cast<std::uint16_t>(std::stoi(env("WEFT_MYSQL_PORT")));
  o.user = env("WEFT_MYSQL_USER");
  o.password = env("WEFT_MYSQL_PASSWORD");
  o.database = env("WEFT_MYSQL_DATABASE");
  return o;
}

/// What the timed loops share: when to start counting, when to stop, and the count.
struct Run {
  const Args& args;
  std::atomic<long> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point deadline{};
  std::atomic<long> queries{0};
};

/// A per-task generator for the random id (xorshift64*), so tasks share no state.
struct Rng {
  std::uint64_t s;
  std::int32_t below(std::int64_t n) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<std::int32_t>((s * 2685821657736338717ull) % static_cast<std::uint64_t>(n));
  }
};

weft::Task<void> client(Run& run, long index) {
  mysql::Connection c = co_await mysql::connect(options());
  const bool pk = run.args.workload == "pk";
  Rng rng{0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(index + 1)};
  // One untimed query: the statement prepared, the connection warm.
  if (pk) {
    (void)co_await c.fetch("SELECT balance FROM bench_accounts WHERE id = ?", 1);
  } else {
    (void)co_await c.fetch("SELECT 1");
  }
  run.ready.fetch_add(1, std::memory_order_acq_rel);
  while (!run.go.load(std::memory_order_acquire)) {
    co_await weft::sleep(std::chrono::milliseconds(1));
  }
  long n = 0;
  while (Clock::now() < run.deadline) {
    if (pk) {
      mysql::Result r = co_await c.fetch("SELECT balance FROM bench_accounts WHERE id = ?",
                                         1 + rng.below(100000));
      if (r.size() != 1) throw std::runtime_error("pk: no row");
    } else {
      mysql::Result r = co_await c.fetch("SELECT 1");
      if (r.size() != 1) throw std::runtime_error("select1: no row");
    }
    ++n;
  }
  run.queries.fetch_add(n, std::memory_order_relaxed);
}

weft::Task<void> main_task(const Args& args) {
  Run run{args};
  std::vector<weft::JoinHandle<void>> hs;
  for (long i = 0; i < args.conns; ++i) hs.push_back(weft::spawn(client(run, i)));
  while (run.ready.load(std::memory_order_acquire) < args.conns) {
    co_await weft::sleep(std::chrono::milliseconds(1));
  }
  const double cpu0 = cpu_seconds();
  const Clock::time_point t0 = Clock::now();
  run.deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.seconds));
  run.go.store(true, std::memory_order_release);
  for (auto& h : hs) co_await h;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  const long q = run.queries.load();
  std::printf(
      "{\"workload\": \"%s\", \"conns\": %ld, \"workers\": %ld, \"queries\": %ld, \"seconds\": "
      "%.3f, \"queries_per_sec\": %.1f, \"cpu_us_per_query\": %.3f}\n",
      args.workload.c_str(), args.conns, args.workers, q, secs, q / secs, cpu * 1e6 / q);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  weft::RuntimeOptions ro;
  ro.workers = static_cast<std::size_t>(args.workers);
  weft::run(main_task(args), ro);
}
