// pg_listen_worker: a job queue on PostgreSQL with LISTEN/NOTIFY. A producer inserts jobs
// and NOTIFYs their ids; a worker LISTENs, and on each notification claims the queued jobs
// and runs them; a "stop" notification ends it. In asyncpg:
//
//   async def worker(conn):
//       wakeups = asyncio.Queue()
//       await conn.add_listener("job_queue", lambda c, pid, ch, msg: wakeups.put_nowait(msg))
//       while (msg := await wakeups.get()) != "stop":
//           while job := await conn.fetchrow(CLAIM):
//               await conn.execute(DONE, job["id"], fib(job["n"]))
//
//   async def producer(conn):
//       for n in (5, 10, 20, 40, 60):
//           async with conn.transaction():
//               job_id = await conn.fetchval("INSERT ... RETURNING id", n)
//               await conn.execute("SELECT pg_notify('job_queue', $1)", str(job_id))
//       await conn.execute("NOTIFY job_queue, 'stop'")
//
// The NOTIFY is in the inserting transaction, so it is delivered at the commit: a job is
// never announced before it is visible. A notification is only a wake-up: the worker claims
// whatever is queued, in id order (FOR UPDATE SKIP LOCKED would let several workers share
// the queue), and runs queries on the listening connection between notifications; what
// arrives meanwhile waits in the connection until the next one is taken. The output is the
// same however the two interleave.
//
// The server comes from the environment: WEFT_PG_CONNINFO="host=... port=... dbname=...".
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <weft/io/pg.hpp>
#include <weft/weft.hpp>

namespace pg = weft::pg;

namespace {

// The jobs' inputs, in the order they are queued.
constexpr std::array<int, 5> kJobs = {5, 10, 20, 40, 60};

constexpr const char* kSetup =
    "DROP TABLE IF EXISTS listen_worker_jobs;"
    "CREATE TABLE listen_worker_jobs ("
    "  id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  n int4 NOT NULL,"
    "  status text NOT NULL DEFAULT 'queued',"
    "  result int8)";

// Takes the oldest queued job, if any.
constexpr const char* kClaim =
    "UPDATE listen_worker_jobs SET status = 'running' WHERE id = ("
    "  SELECT id FROM listen_worker_jobs WHERE status = 'queued'"
    "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, n";

std::int64_t fib(int n) {
  std::int64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const std::int64_t next = a + b;
    a = b;
    b = next;
  }
  return a;
}

/// Runs every queued job; how many.
weft::Task<int> run_queued_jobs(pg::Connection& conn) {
  int done = 0;
  while (std::optional<pg::Row> job = co_await conn.fetchrow(kClaim)) {
    const auto id = job->get<std::int64_t>("id");
    const auto n = job->get<std::int32_t>("n");
    const std::int64_t result = fib(n);
    co_await conn.execute(
        "UPDATE listen_worker_jobs SET status = 'done', result = $2 WHERE id = $1", id, result);
    std::printf("worker: job %lld: fib(%d) = %lld\n", static_cast<long long>(id), n,
                static_cast<long long>(result));
    ++done;
  }
  co_return done;
}

weft::Task<> worker(pg::Connection& conn, weft::Event& listening) {
  co_await conn.listen("job_queue");
  std::printf("worker: listening on job_queue\n");
  listening.set();
  int done = 0;
  weft::AsyncGenerator<pg::Notification> wakeups = conn.notifications();
  while (std::optional<pg::Notification> note = co_await wakeups.next()) {
    done += co_await run_queued_jobs(conn);
    if (note->payload == "stop") break;
  }
  std::printf("worker: stop received, %d jobs done\n", done);
}

weft::Task<> producer(pg::Connection& conn, weft::Event& listening) {
  co_await listening.wait();  // a NOTIFY before the LISTEN would reach nobody
  for (int n : kJobs) {
    co_await conn.transaction([&conn, n](pg::Transaction&) -> weft::Task<void> {
      const auto id = co_await conn.fetchval<std::int64_t>(
          "INSERT INTO listen_worker_jobs (n) VALUES ($1) RETURNING id", n);
      co_await conn.notify("job_queue", std::to_string(id));
    });
  }
  co_await conn.notify("job_queue", "stop");
}

weft::Task<> main_task(std::string conninfo) {
  pg::Connection worker_conn = co_await pg::connect(conninfo);
  pg::Connection producer_conn = co_await pg::connect(conninfo);
  co_await producer_conn.execute(kSetup);
  weft::Event listening;
  co_await weft::gather(worker(worker_conn, listening), producer(producer_conn, listening));
  const auto done = co_await producer_conn.fetchval<std::int64_t>(
      "SELECT count(*) FROM listen_worker_jobs WHERE status = 'done'");
  const auto left = co_await producer_conn.fetchval<std::int64_t>(
      "SELECT count(*) FROM listen_worker_jobs WHERE status <> 'done'");
  std::printf("jobs: %lld done, %lld left\n", static_cast<long long>(done),
              static_cast<long long>(left));
  co_await producer_conn.execute("DROP TABLE listen_worker_jobs");
}

}  // namespace

int main() {
  const char* conninfo = std::getenv("WEFT_PG_CONNINFO");
  if (!conninfo) {
    std::fprintf(stderr, "pg_listen_worker: set WEFT_PG_CONNINFO to a libpq conninfo\n");
    return 2;
  }
  weft::run(main_task(conninfo));
}
