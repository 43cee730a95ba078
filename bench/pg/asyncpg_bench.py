#!/usr/bin/python3
"""asyncpg on uvloop in run_pg.py's benchmark (bench/README.md, "PostgreSQL"): the same
workloads and output as weft_pg_bench.

    asyncpg_bench.py --dsn DSN --workload select1|pk|pool|copy [--conns C] [--tasks T]
        [--seconds S] [--scale N]

  select1: --conns tasks, each with its own connection, running `SELECT 1` in a loop;
  pk:      the same with `SELECT abalance FROM pgbench_accounts WHERE aid = $1` and a random
           aid in 1 .. 100,000 x --scale;
  pool:    --tasks tasks (default 16) over one asyncpg pool of --conns connections (min and
           max), each looping `async with pool.acquire()`, `SELECT 1` (asyncpg runs its reset
           query on every release).

Every task first runs one query untimed (connecting, preparing, filling the pool), then all
run until --seconds have passed. Prints one JSON line: workload, conns, queries, seconds,
queries_per_sec, cpu_us_per_query (this process's user+system CPU time from getrusage over
the timed span, divided by the queries). Needs Debian's python3-asyncpg and python3-uvloop.
"""

import argparse
import asyncio
import json
import random
import resource
import sys
import time

import asyncpg
import uvloop

PK_QUERY = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Run:
    """What the loops share: the start line, the deadline and the count."""

    def __init__(self, args, tasks):
        self.args = args
        self.tasks = tasks
        self.ready = 0
        self.all_ready = asyncio.Event()
        self.go = asyncio.Event()
        self.deadline = 0.0
        self.queries = 0

    async def start_line(self):
        self.ready += 1
        if self.ready == self.tasks:
            self.all_ready.set()
        await self.go.wait()


async def select1_loop(run, index):
    conn = await asyncpg.connect(run.args.dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        await run.start_line()
        n = 0
        while time.monotonic() < run.deadline:
            await conn.fetchval("SELECT 1")
            n += 1
        run.queries += n
    finally:
        await conn.close()


async def pk_loop(run, index):
    accounts = 100000 * run.args.scale
    rng = random.Random(index)
    conn = await asyncpg.connect(run.args.dsn)
    try:
        await conn.fetchval(PK_QUERY, 1)
        await run.start_line()
        n = 0
        while time.monotonic() < run.deadline:
            await conn.fetchval(PK_QUERY, rng.randint(1, accounts))
            n += 1
        run.queries += n
    finally:
        await conn.close()


async def pool_loop(run, pool):
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    await run.start_line()
    n = 0
    while time.monotonic() < run.deadline:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        n += 1
    run.queries += n


COPY_ROWS = 100000


async def copy_loop(run, index):
    """Empties a table of its own and copies COPY_ROWS records into it, in a loop."""
    table = f"bench_copy_{index}"
    rows = [(i, f"name {i}", i * 0.5) for i in range(COPY_ROWS)]
    conn = await asyncpg.connect(run.args.dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}; "
                           f"CREATE UNLOGGED TABLE {table} (id int4, name text, v float8)")
        await conn.copy_records_to_table(table, records=rows, columns=["id", "name", "v"])
        await run.start_line()
        n = 0
        while time.monotonic() < run.deadline:
            await conn.execute(f"TRUNCATE {table}")
            await conn.copy_records_to_table(table, records=rows, columns=["id", "name", "v"])
            n += COPY_ROWS
        await conn.execute(f"DROP TABLE {table}")
        run.queries += n
    finally:
        await conn.close()


async def measure(run, loops):
    """Runs the `loops` coroutines; (seconds, CPU seconds) from the start line to the end."""
    tasks = [asyncio.ensure_future(loop) for loop in loops]
    await asyncio.wait([asyncio.ensure_future(run.all_ready.wait())] + tasks,
                       return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        if t.done():
            t.result()  # a loop that failed before the start line
    started, cpu_started = time.monotonic(), cpu_seconds()
    run.deadline = started + run.args.seconds
    run.go.set()
    await asyncio.gather(*tasks)
    return time.monotonic() - started, cpu_seconds() - cpu_started


async def select1(args):
    run = Run(args, args.conns)
    return run, await measure(run, [select1_loop(run, i) for i in range(args.conns)])


async def pk(args):
    run = Run(args, args.conns)
    return run, await measure(run, [pk_loop(run, i) for i in range(args.conns)])


async def copy(args):
    run = Run(args, args.conns)
    return run, await measure(run, [copy_loop(run, i) for i in range(args.conns)])


async def pool(args):
    run = Run(args, args.tasks)
    async with asyncpg.create_pool(args.dsn, min_size=args.conns, max_size=args.conns) as p:
        measured = await measure(run, [pool_loop(run, p) for _ in range(args.tasks)])
    return run, measured


# A new workload: a coroutine function here (and its entry in run_pg.py).
WORKLOADS = {"select1": select1, "pk": pk, "pool": pool, "copy": copy}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--conns", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    uvloop.install()
    run, (seconds, cpu) = asyncio.run(WORKLOADS[args.workload](args))
    print(json.dumps({"workload": args.workload, "conns": args.conns, "queries": run.queries,
                      "seconds": round(seconds, 4),
                      "queries_per_sec": round(run.queries / seconds, 1),
                      "cpu_us_per_query": round(cpu * 1e6 / max(run.queries, 1), 3)}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
