// A batch of queries in one round trip on weft::pg (Connection::run_batch): the same work as
// libpq_pipeline.c, with the same output (bench/README.md, "pg pipeline").
//
//   weft_pg_pipeline CONNINFO [select|insert] [QUERIES] [prepared|unnamed] [WORKERS]
//
// select: QUERIES x `SELECT $1::int4`; insert: QUERIES x `INSERT INTO a temporary table
// VALUES ($1, $2)`. prepared (the default): the statement cache on, so the batch is one
// Parse and QUERIES Bind/Execute; unnamed: the cache off, every query parsed on its own.
// WORKERS: the runtime's workers (default 1). The timed part builds the pg::Batch, runs it
// and reads every result, after one untimed batch; prints one JSON line:
// {"client":"weft","workload":...,"queries":N,"seconds":...,"cpu_us_per_query":...,
// "statements":...}, the CPU being the process's user + system time over the timed part.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

namespace pg = weft::pg;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Config {
  std::string conninfo;
  bool insert = false;
  int queries = 10000;
  bool prepared = true;
};

/// Builds and runs one batch; a checksum of what it read.
weft::Task<std::int64_t> run_once(pg::Connection& c, const Config& cfg) {
  static const std::string kText = "a row of the benchmark";
  pg::Batch b;
  b.reserve(static_cast<std::size_t>(cfg.queries));
  for (int i = 0; i < cfg.queries; ++i) {
    if (cfg.insert) {
      b.add("INSERT INTO bench_pipeline VALUES ($1, $2)", i, kText);
    } else {
      b.add("SELECT $1::int4", i);
    }
  }
  const std::vector<pg::Result> rs = co_await c.run_batch(b);
  std::int64_t sum = 0;
  for (const pg::Result& r : rs) {
    sum += cfg.insert ? static_cast<std::int64_t>(r.affected_rows()) : r[0].get<std::int32_t>(0);
  }
  co_return sum;
}

weft::Task<int> bench(Config cfg) {
  pg::ConnectOptions o;
  if (!cfg.prepared) o.statement_cache_size = 0;
  pg::Connection c = co_await pg::connect(cfg.conninfo, o);
  if (cfg.insert) co_await c.execute("CREATE TEMP TABLE bench_pipeline (id int4, v text)");
  (void)co_await run_once(c, cfg);  // untimed: warms the server's caches and the statement
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  const std::int64_t sum = co_await run_once(c, cfg);
  const double c1 = cpu_seconds();
  const auto t1 = std::chrono::steady_clock::now();
  const std::int64_t n = cfg.queries;
  const std::int64_t want = cfg.insert ? n : n * (n - 1) / 2;
  if (sum != want) {
    std::fprintf(stderr, "weft_pg_pipeline: checksum %lld, expected %lld\n",
                 static_cast<long long>(sum), static_cast<long long>(want));
    co_return 1;
  }
  std::printf(
      "{\"client\":\"weft\",\"workload\":\"%s\",\"queries\":%d,\"seconds\":%.6f,"
      "\"cpu_us_per_query\":%.3f,\"statements\":\"%s\"}\n",
      cfg.insert ? "insert" : "select", cfg.queries, std::chrono::duration<double>(t1 - t0).count(),
      (c1 - c0) * 1e6 / cfg.queries, cfg.prepared ? "prepared" : "unnamed");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: weft_pg_pipeline CONNINFO [select|insert] [QUERIES] "
                 "[prepared|unnamed] [WORKERS]\n");
    return 2;
  }
  Config cfg;
  cfg.conninfo = argv[1];
  const std::string workload = argc > 2 ? argv[2] : "select";
  if (workload != "select" && workload != "insert") {
    std::fprintf(stderr, "weft_pg_pipeline: unknown workload %s\n", workload.c_str());
    return 2;
  }
  cfg.insert = workload == "insert";
  if (argc > 3) cfg.queries = std::atoi(argv[3]);
  if (argc > 4) cfg.prepared = std::string(argv[4]) != "unnamed";
  const std::size_t workers = argc > 5 ? static_cast<std::size_t>(std::atoi(argv[5])) : 1;
  try {
    return weft::run(bench(cfg), {.workers = workers});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_pg_pipeline: %s\n", e.what());
    return 1;
  }
}
