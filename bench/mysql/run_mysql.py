#!/usr/bin/python3
"""The MySQL benchmark (issue 21): weft::mysql against a plain synchronous C program on
MariaDB Connector/C (a thread per connection) and aiomysql on uvloop, on a throwaway MariaDB
server.

    bench/mysql/run_mysql.py [--rounds 5] [--seconds 3] [--quick] [--build build/release]
        [--workload select1 --workload pk] [--conns 1 --conns 16] [--out FILE]

The server is tests/io/mysql_run_with_server's (mysql_server.hpp: a copy of a cached
template, mariadbd on a free port of 127.0.0.1 as a non-root user): the script runs itself
under it, and every client connects over TCP with the WEFT_MYSQL_* it sets. A table
bench_accounts (id INT PRIMARY KEY, balance INT) of 100,000 rows is made first.

Workloads: select1 (`SELECT 1`) and pk (`SELECT balance FROM bench_accounts WHERE id = ?`,
id random), each with 1 and 16 connections, one task or thread per connection. Clients:
  - weft-1w, weft-2w: BUILD/bench/mysql/weft_mysql_bench with 1 and 2 workers (select1 a
    text query, pk a prepared statement from the connection's cache);
  - c: BUILD/bench/mysql/c_mysql_bench, Connector/C's blocking API, a thread per connection
    (select1 mysql_real_query + mysql_store_result, pk a prepared statement);
  - aiomysql: bench/mysql/aiomysql_bench.py under /usr/bin/python3 with uvloop (pk formats
    the id into the text: aiomysql has no server-side prepared statements).
Each client runs one query per connection untimed, then loops for SECONDS and reports its
own CPU (getrusage) over that span. Per round, every cell (workload x connections) in turn,
and in each cell the clients one after another in an order that rotates with the round.
Reported per cell and client: the medians over the rounds of queries/s and client CPU
microseconds per query; ratios of weft to the others are medians of the per-round ratios.
The server shares the machine's two cores with the client, so where the server is near its
share, queries/s measures the server and client CPU per query is the fair comparison.

Prints a markdown table and the issue's bars, and writes them to --out (default
BUILD/mysql-results.md) with the per-run values as JSON beside it. Every run has a timeout;
a failed run fails the script (status 1)."""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYTHON = "/usr/bin/python3"  # Debian's, with python3-aiomysql and python3-uvloop

# The bars, at 16 connections: weft's queries/s >= the C client's, its CPU per query
# <= 1.2x the C client's, its queries/s >= 3x aiomysql's.
BAR_CPU_VS_C = 1.2
BAR_QPS_VS_AIOMYSQL = 3.0


def client_command(name, build, workload, conns, seconds):
    common = ["--workload", workload, "--conns", str(conns), "--seconds", str(seconds)]
    if name.startswith("weft-"):
        workers = name[len("weft-"):-1]
        return [str(build / "bench/mysql/weft_mysql_bench"), *common, "--workers", workers]
    if name == "c":
        return [str(build / "bench/mysql/c_mysql_bench"), *common]
    if name == "aiomysql":
        return [PYTHON, str(HERE / "aiomysql_bench.py"), *common]
    raise ValueError(name)


def run_client(cmd, seconds):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def make_table():
    sql = ("DROP TABLE IF EXISTS bench_accounts; "
           "CREATE TABLE bench_accounts (id INT PRIMARY KEY, balance INT NOT NULL); "
           "INSERT INTO bench_accounts SELECT seq, seq % 1000 FROM seq_1_to_100000;")
    subprocess.run(["mariadb", "--no-defaults", "-h", os.environ["WEFT_MYSQL_HOST"],
                    "-P", os.environ["WEFT_MYSQL_PORT"], "-u", os.environ["WEFT_MYSQL_USER"],
                    f"-p{os.environ['WEFT_MYSQL_PASSWORD']}", os.environ["WEFT_MYSQL_DATABASE"],
                    "-e", sql], check=True, timeout=120)


def median_ratio(runs, a, b, key):
    ratios = [r[a][key] / r[b][key] for r in runs if a in r and b in r and r[b][key] > 0]
    return statistics.median(ratios) if ratios else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s: a smoke test")
    ap.add_argument("--build", default=str(REPO / "build/release"))
    ap.add_argument("--workload", action="append", choices=["select1", "pk"])
    ap.add_argument("--conns", action="append", type=int)
    ap.add_argument("--client", action="append",
                    choices=["weft-1w", "weft-2w", "c", "aiomysql"])
    ap.add_argument("--out")
    args = ap.parse_args()
    build = Path(args.build).resolve()

    if "WEFT_MYSQL_PORT" not in os.environ:
        # Under a server of its own: mysql_run_with_server starts it, runs this script again
        # with WEFT_MYSQL_* set, and stops it however the script ends.
        launcher = build / "tests/io/mysql_run_with_server"
        return subprocess.run([str(launcher), PYTHON, *sys.argv]).returncode

    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)
    workloads = args.workload or ["select1", "pk"]
    conns = args.conns or [1, 16]
    clients = args.client or ["weft-1w", "weft-2w", "c", "aiomysql"]
    make_table()

    runs = {}  # (workload, conns) -> [ {client: result} per round ]
    for rnd in range(rounds):
        for w in workloads:
            for c in conns:
                order = clients[rnd % len(clients):] + clients[:rnd % len(clients)]
                results = {}
                for name in order:
                    results[name] = run_client(client_command(name, build, w, c, seconds),
                                               seconds)
                runs.setdefault((w, c), []).append(results)
                print(f"round {rnd + 1}/{rounds} {w} x{c}: " + ", ".join(
                    f"{n} {results[n]['queries_per_sec']:.0f}/s "
                    f"{results[n]['cpu_us_per_query']:.1f}us" for n in clients), flush=True)

    lines = [f"# MySQL benchmark, {datetime.date.today()}", "",
             f"{rounds} rounds of {seconds:g} s per client and cell, interleaved; medians.", "",
             "| workload | conns | client | queries/s | client CPU µs/query |",
             "|---|---:|---|---:|---:|"]
    for (w, c), rs in runs.items():
        for name in clients:
            qps = statistics.median(r[name]["queries_per_sec"] for r in rs)
            cpu = statistics.median(r[name]["cpu_us_per_query"] for r in rs)
            lines.append(f"| {w} | {c} | {name} | {qps:,.0f} | {cpu:.2f} |")
    lines += ["", "Ratios (medians of per-round ratios):", "",
              "| workload | conns | weft | qps / c | cpu / c | qps / aiomysql |",
              "|---|---:|---|---:|---:|---:|"]
    bars = []
    for (w, c), rs in runs.items():
        for weft in [n for n in clients if n.startswith("weft-")]:
            q_c = median_ratio(rs, weft, "c", "queries_per_sec")
            cpu_c = median_ratio(rs, weft, "c", "cpu_us_per_query")
            q_a = median_ratio(rs, weft, "aiomysql", "queries_per_sec")
            lines.append(f"| {w} | {c} | {weft} | {q_c:.2f} | {cpu_c:.2f} | {q_a:.2f} |")
            if c == 16:
                bars.append(f"- {w} x16 {weft}: queries/s {q_c:.2f}x c (bar >= 1: "
                            f"{'met' if q_c >= 1 else 'missed'}), CPU/query {cpu_c:.2f}x c "
                            f"(bar <= {BAR_CPU_VS_C}: {'met' if cpu_c <= BAR_CPU_VS_C else 'missed'}), "
                            f"queries/s {q_a:.2f}x aiomysql (bar >= {BAR_QPS_VS_AIOMYSQL}: "
                            f"{'met' if q_a >= BAR_QPS_VS_AIOMYSQL else 'missed'})")
    lines += ["", "Bars (issue 21, at 16 connections):", "", *bars]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out) if args.out else build / "mysql-results.md"
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(
        {f"{w} x{c}": rs for (w, c), rs in runs.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
