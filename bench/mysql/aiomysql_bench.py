#!/usr/bin/python3
"""aiomysql on uvloop in run_mysql.py's benchmark (bench/README.md, "MySQL"): the same
workloads, arguments and JSON line as weft_mysql_bench, over aiomysql's pool of --conns
connections (create_pool, as its README uses it), one task per connection:
  select1: `SELECT 1`;
  pk:      `SELECT balance FROM bench_accounts WHERE id = %s` (aiomysql formats the argument
           into the text; it has no server-side prepared statements).
Each task runs one query untimed, then all loop until --seconds have passed; CPU is this
process's (resource.getrusage) over the timed span."""

import argparse
import asyncio
import json
import os
import random
import resource
import time

import aiomysql
import uvloop


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def main(args):
    pool = await aiomysql.create_pool(
        host=os.environ["WEFT_MYSQL_HOST"], port=int(os.environ["WEFT_MYSQL_PORT"]),
        user=os.environ["WEFT_MYSQL_USER"], password=os.environ["WEFT_MYSQL_PASSWORD"],
        db=os.environ["WEFT_MYSQL_DATABASE"], minsize=args.conns, maxsize=args.conns)
    pk = args.workload == "pk"
    ready = 0
    go = asyncio.Event()
    deadline = 0.0
    counts = []

    async def client(index):
        nonlocal ready
        rng = random.Random(index)
        async with pool.acquire() as conn:
            async with conn.cursor() as cur:
                async def one():
                    if pk:
                        await cur.execute("SELECT balance FROM bench_accounts WHERE id = %s",
                                          (rng.randint(1, 100000),))
                    else:
                        await cur.execute("SELECT 1")
                    if await cur.fetchone() is None:
                        raise RuntimeError("no row")
                await one()
                ready += 1
                await go.wait()
                n = 0
                while time.monotonic() < deadline:
                    await one()
                    n += 1
                counts.append(n)

    tasks = [asyncio.ensure_future(client(i)) for i in range(args.conns)]
    while ready < args.conns:
        await asyncio.sleep(0.001)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    deadline = t0 + args.seconds
    go.set()
    await asyncio.gather(*tasks)
    secs, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    q = sum(counts)
    pool.close()
    await pool.wait_closed()
    print(json.dumps({"workload": args.workload, "conns": args.conns, "workers": 1,
                      "queries": q, "seconds": round(secs, 3),
                      "queries_per_sec": round(q / secs, 1),
                      "cpu_us_per_query": round(cpu * 1e6 / q, 3)}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--workload", choices=["select1", "pk"], required=True)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--workers", type=int, default=1)  # accepted, as the others take it
    uvloop.install()
    asyncio.run(main(p.parse_args()))
