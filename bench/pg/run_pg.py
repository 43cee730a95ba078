#!/usr/bin/python3
"""The PostgreSQL benchmark (issue 18): weft::pg against pgbench (C, libpq) and asyncpg on
uvloop, on a throwaway PostgreSQL cluster this script starts.

    bench/pg/run_pg.py [--rounds 5] [--seconds 3] [--quick] [--build build/release]
        [--workload select1 --workload pk ...] [--client weft ...] [--via tcp|unix]
        [--bars weft-1w|weft-2w] [--out FILE]
    bench/pg/run_pg.py --serve     # the cluster alone, for profiling a client by hand

The server: initdb into a temporary directory (as the system user weft-pg when run as root,
since PostgreSQL refuses root; made with useradd if missing, as tests/io/pg_server.cpp
does), postgres on a free port on 127.0.0.1 and a Unix socket in that directory, fsync,
synchronous_commit and full_page_writes off; `pgbench -i -s SCALE` (default 10) fills
pgbench_accounts. Every client connects over TCP to 127.0.0.1 (--via unix: the socket) as
the trust-authenticated superuser. The server is stopped and its directory removed at the
end, also on failure.

Workloads (WORKLOADS below; a new one is one entry there, plus its code in each client):
  - select1: `SELECT 1` round trips, one connection per client task, 1 and 16 connections;
  - pk: `SELECT abalance FROM pgbench_accounts WHERE aid = $1`, aid random in the table;
  - pool: 16 tasks looping acquire, `SELECT 1`, release over a pool of 16 (weft's pg::Pool,
    asyncpg's create_pool, which runs a reset query on every release; pgbench has none);
  - copy: one connection emptying an unlogged table and copying 100,000 records (int4,
    text, float8) into it in a loop, weft's copy_records_to_table against asyncpg's
    (binary COPY both); its "queries" are rows, its CPU per query is per row.
Clients:
  - pgbench: /usr/lib/postgresql/15/bin/pgbench -n -M prepared -f SCRIPT -c C -j (1, or 2
    for several connections) -T SECONDS; queries/s is its tps (one query per transaction),
    CPU its user+system time from wait4 over the whole process (start-up and connecting
    included) divided by the transactions it processed;
  - asyncpg: bench/pg/asyncpg_bench.py under /usr/bin/python3 with uvloop;
  - weft-1w, weft-2w: BUILD/bench/pg/weft_pg_bench with 1 and 2 workers (--weft-workers).
  asyncpg_bench.py and weft_pg_bench run each task's first query untimed, then time the
  loops for SECONDS and report their own CPU (getrusage) over that span.

For each round, every cell (workload x connections) in turn, and in each cell the clients
one after another in an order that rotates with the round, so a drifting machine hits every
client alike. Reported per cell and client: the medians over the rounds of queries/s and
client CPU microseconds per query, and the server's CPU (all postgres processes, from /proc)
over the run as a percentage of one core; ratios of weft to the others are medians of the
ratios within each round. The server shares the machine's cores with the client, so where
the server is near its share, queries/s measures the server and client CPU per query is the
fair comparison of the clients.

Prints a markdown table and the issue's bars, and writes them to --out (default
BUILD/pg-results.md) with the per-run values as JSON beside it (.json). Every run has a
timeout; a failed run fails the script (status 1) after the server was stopped.
"""

import argparse
import datetime
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "http"))
import run_http  # noqa: E402  (process_tree, cpu_seconds of /proc, wait_with_rusage)

PYTHON = "/usr/bin/python3"  # Debian's, with python3-asyncpg and python3-uvloop
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_USER = "weft-pg"
DB_USER, DB_NAME = "weft", "postgres"
PK_QUERY = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"

# The bars: weft's queries/s >= pgbench's; CPU/query <= pgbench's and <= 0.5x
# asyncpg's; the pool's queries/s >= 3x asyncpg's pool.
BAR_CPU_VS_ASYNCPG = 0.5
BAR_POOL_VS_ASYNCPG = 3.0


class PgBenchError(Exception):
    """A server or client that failed, timed out or printed something unexpected."""


# --- the server --------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_as():
    """(uid, gid) the cluster runs as: ours, or weft-pg's when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", SYSTEM_USER], check=True, capture_output=True)
        pw = pwd.getpwnam(SYSTEM_USER)
    return pw.pw_uid, pw.pw_gid


class Cluster:
    """A throwaway PostgreSQL cluster: start() it, conninfo()/dsn() for clients, stop()."""

    def __init__(self, scale, via):
        self.scale, self.via = scale, via
        self.dir = Path(tempfile.mkdtemp(prefix="weft-pgbench-"))
        self.data = self.dir / "data"
        self.port = None
        self.process = None
        self.ids = run_as()

    def _user_args(self):
        if self.ids is None:
            return {}
        return {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}

    def _run(self, command, what, timeout):
        done = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **self._user_args())
        if done.returncode != 0:
            raise PgBenchError(f"{what} failed (status {done.returncode}):\n"
                               f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def start(self):
        if self.ids is not None:
            os.chown(self.dir, *self.ids)
        self._run([PG_BIN / "initdb", "-D", self.data, "-U", DB_USER, "-A", "trust", "-E",
                   "UTF8", "--locale=C", "--no-sync"], "initdb", 120)
        self.port = free_port()
        log = open(self.dir / "server.log", "ab")
        if self.ids is not None:
            os.chown(self.dir / "server.log", *self.ids)
        self.process = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.data), "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={self.port}", "-c", f"unix_socket_directories={self.dir}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=100", "-c", "shared_buffers=256MB"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, **self._user_args())
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise PgBenchError("postgres exited at start:\n" + self.log_tail())
            ready = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                                    str(self.port)], stdin=subprocess.DEVNULL)
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise PgBenchError("postgres not ready within 60 s:\n" + self.log_tail())
            time.sleep(0.05)
        self._run([PG_BIN / "pgbench", "-i", "-q", "-s", self.scale, *self.pgbench_conn()],
                  f"pgbench -i -s {self.scale}", 300)
        # The table and its index into shared_buffers, so that no client's runs pay for
        # reading them in (a sequential scan would use a small ring buffer instead).
        self._run([PG_BIN / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                   "-p", str(self.port), "-U", DB_USER, "-d", DB_NAME, "-c",
                   "CREATE EXTENSION pg_prewarm", "-c", "SELECT pg_prewarm('pgbench_accounts')",
                   "-c", "SELECT pg_prewarm('pgbench_accounts_pkey')"], "pg_prewarm", 120)

    def log_tail(self):
        path = self.dir / "server.log"
        return path.read_text()[-2000:] if path.is_file() else ""

    def host(self):
        return "127.0.0.1" if self.via == "tcp" else str(self.dir)

    def pgbench_conn(self):
        return ["-h", self.host(), "-p", str(self.port), "-U", DB_USER, DB_NAME]

    def conninfo(self):
        return f"host={self.host()} port={self.port} user={DB_USER} dbname={DB_NAME}"

    def dsn(self):
        if self.via == "tcp":
            return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"
        return f"postgresql://{DB_USER}@/{DB_NAME}?host={self.dir}&port={self.port}"

    def cpu_seconds(self):
        """User+system CPU time of the postgres processes (postmaster and backends)."""
        # Each process's own time and that of its children it reaped (fields 14-17 of
        # proc(5)): a backend that exits is reaped by the postmaster, so its time moves into
        # the postmaster's cutime and cstime instead of going out of the sum.
        for _ in range(5):  # a backend may exit while we read
            try:
                ticks = 0
                for pid in run_http.process_tree(self.process.pid):
                    fields = run_http._stat_fields(pid)
                    ticks += sum(int(f) for f in fields[11:15])
                return ticks / os.sysconf("SC_CLK_TCK")
            except (FileNotFoundError, ProcessLookupError):
                continue
        return float("nan")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the clients -------------------------------------------------------------------------

def pgbench_script(workload, scale, workdir):
    """The pgbench script file for `workload` (one query per transaction)."""
    text = {
        "select1": "SELECT 1;\n",
        "pk": f"\\set aid random(1, {100000 * scale})\n"
              "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n",
    }[workload]
    path = Path(workdir) / f"{workload}.sql"
    path.write_text(text)
    return str(path)


# pgbench's -T runs from before its clients connect: on a busy machine 16 connections can take
# all of a 1 s run (a smoke run under ctest -j2 processed no transaction and failed), so it
# runs at least this long. Its rate is per second of the run after the connections.
PGBENCH_MIN_SECONDS = 3


def pgbench_command(ctx, workload, conns):
    threads = 1 if conns == 1 else 2
    seconds = max(PGBENCH_MIN_SECONDS, round(ctx.seconds))
    return [str(PG_BIN / "pgbench"), "-n", "-M", "prepared", "-f",
            pgbench_script(workload, ctx.scale, ctx.workdir), "-c", str(conns), "-j",
            str(threads), "-T", str(seconds), *ctx.cluster.pgbench_conn()]


def asyncpg_command(ctx, workload, conns):
    return [PYTHON, str(HERE / "asyncpg_bench.py"), "--dsn", ctx.cluster.dsn(), "--workload",
            workload, "--conns", str(conns), "--seconds", str(ctx.seconds), "--scale",
            str(ctx.scale)]


def weft_command(workers):
    def command(ctx, workload, conns):
        return [str(ctx.weft_bin), "--conninfo", ctx.cluster.conninfo(), "--workload", workload,
                "--conns", str(conns), "--seconds", str(ctx.seconds), "--scale",
                str(ctx.scale), "--workers", str(workers)]
    return command


def parse_pgbench(out, cpu):
    tps = processed = None
    for line in out.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        if line.startswith("number of transactions actually processed:"):
            processed = int(line.split(":")[1].split("/")[0])
    if tps is None or not processed:
        raise PgBenchError(f"no tps in pgbench's output:\n{out[-2000:]}")
    return {"qps": tps, "cpu_us": cpu * 1e6 / processed, "queries": processed}


def parse_json_line(out, cpu):
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise PgBenchError(f"no JSON line in the output:\n{out[-2000:]}")
    fields = json.loads(lines[-1])
    return {"qps": fields["queries_per_sec"], "cpu_us": fields["cpu_us_per_query"],
            "queries": fields["queries"]}


# A client: how to make its command line for (workload, conns) and how to read its output
# (given the output and the process's CPU seconds from wait4).
CLIENTS = {
    "pgbench": (pgbench_command, parse_pgbench),
    "asyncpg": (asyncpg_command, parse_json_line),
    "weft-1w": (weft_command(1), parse_json_line),
    "weft-2w": (weft_command(2), parse_json_line),
}

# The workloads: connection counts and the clients that have each. Adding one (copy: weft's
# COPY against asyncpg's copy_records_to_table; pipeline: 10,000 queries against a C program
# on libpq's pipeline mode) is an entry here, with a client of its own where needed in
# CLIENTS, and the workload in asyncpg_bench.py and weft_pg_bench.cpp.
WEFT = ("weft-1w", "weft-2w")
WORKLOADS = {
    "select1": {"conns": (1, 16), "clients": ("pgbench", "asyncpg") + WEFT},
    "pk": {"conns": (1, 16), "clients": ("pgbench", "asyncpg") + WEFT},
    "pool": {"conns": (16,), "clients": ("asyncpg",) + WEFT},
    # Rows, not queries: each client copies 100,000 records per COPY in a loop.
    "copy": {"conns": (1,), "clients": ("asyncpg",) + WEFT},
}


class Context:
    def __init__(self, cluster, seconds, scale, weft_bin, workdir):
        self.cluster, self.seconds, self.scale = cluster, seconds, scale
        self.weft_bin, self.workdir = weft_bin, workdir


def run_client(ctx, client, workload, conns):
    """One run: the client's result with the server's CPU % over it."""
    make, parse = CLIENTS[client]
    command = make(ctx, workload, conns)
    server_before, started = ctx.cluster.cpu_seconds(), time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out_chunks, err_chunks = [], []
    readers = [threading.Thread(target=lambda s=s, c=c: c.append(s.read()), daemon=True)
               for s, c in ((process.stdout, out_chunks), (process.stderr, err_chunks))]
    for r in readers:
        r.start()
    status, cpu = run_http.wait_with_rusage(process, ctx.seconds + 60)
    for r in readers:
        r.join(10)
    wall = time.monotonic() - started
    server_cpu = ctx.cluster.cpu_seconds() - server_before
    out, err = "".join(out_chunks), "".join(err_chunks)
    if status != 0:
        raise PgBenchError(f"{' '.join(command)} failed (status {status}):\n{err[-2000:]}")
    result = parse(out, cpu)
    result["server_cpu_pct"] = 100 * server_cpu / wall
    result["load1"] = os.getloadavg()[0]  # others' work on the machine, for the record
    return result


# --- the report --------------------------------------------------------------------------

def median_of(runs, key):
    values = [r[key] for r in runs]
    return statistics.median(values) if values else None


def ratio_median(rounds_a, rounds_b, key):
    """The median over rounds of a/b (runs paired by round)."""
    ratios = [a[key] / b[key] for a, b in zip(rounds_a, rounds_b) if b[key]]
    return statistics.median(ratios) if ratios else None


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def make_report(results, cells, clients, weft_pick):
    """Markdown: one row per cell and client, then ratios and the bars."""
    lines = ["| workload | conns | client | queries/s | client CPU µs/query | server CPU % |",
             "|---|---:|---|---:|---:|---:|"]
    for workload, conns in cells:
        for client in clients:
            runs = results.get((workload, conns, client))
            if not runs:
                continue
            lines.append(f"| {workload} | {conns} | {client} | {fmt(median_of(runs, 'qps'), 0)} "
                         f"| {fmt(median_of(runs, 'cpu_us'), 2)} "
                         f"| {fmt(median_of(runs, 'server_cpu_pct'), 0)} |")
    lines += ["", "Ratios (medians of per-round ratios; queries/s above 1 and CPU below 1 favour "
              "weft):", "",
              "| workload | conns | weft | q/s vs pgbench | CPU vs pgbench | q/s vs asyncpg "
              "| CPU vs asyncpg |", "|---|---:|---|---:|---:|---:|---:|"]
    for workload, conns in cells:
        for weft in [c for c in clients if c.startswith("weft")]:
            mine = results.get((workload, conns, weft))
            if not mine:
                continue
            row = [workload, str(conns), weft]
            for other in ("pgbench", "asyncpg"):
                theirs = results.get((workload, conns, other))
                for key in ("qps", "cpu_us"):
                    row.append(fmt(ratio_median(mine, theirs, key), 2) if theirs else "n/a")
            lines.append("| " + " | ".join(row) + " |")
    bars = check_bars(results, cells, weft_pick)
    if bars:
        lines += ["", f"The issue's bars ({weft_pick}):", ""] + bars
    return "\n".join(lines) + "\n"


def check_bars(results, cells, weft):
    out = []

    def verdict(ok):
        return "met" if ok else "MISSED"

    for workload, conns in cells:
        mine = results.get((workload, conns, weft))
        if not mine:
            continue
        pgb = results.get((workload, conns, "pgbench"))
        apg = results.get((workload, conns, "asyncpg"))
        if workload == "pool":
            if apg:
                r = ratio_median(mine, apg, "qps")
                out.append(f"- pool {conns}: queries/s {r:.3f}x asyncpg's pool (bar >= "
                           f"{BAR_POOL_VS_ASYNCPG:g}x): {verdict(r >= BAR_POOL_VS_ASYNCPG)}")
            continue
        if workload == "copy":
            if apg:
                r = ratio_median(mine, apg, "qps")
                c = ratio_median(mine, apg, "cpu_us")
                out.append(f"- copy {conns}: rows/s {r:.3f}x asyncpg's copy_records_to_table "
                           f"(bar >= 1): {verdict(r >= 1)}; CPU/row {c:.3f}x asyncpg's")
            continue
        if pgb:
            r = ratio_median(mine, pgb, "qps")
            out.append(f"- {workload} {conns}: queries/s {r:.3f}x pgbench's (bar >= 1): "
                       f"{verdict(r >= 1)}")
            r = ratio_median(mine, pgb, "cpu_us")
            out.append(f"- {workload} {conns}: CPU/query {r:.3f}x pgbench's (bar <= 1): "
                       f"{verdict(r <= 1)}")
        if apg:
            r = ratio_median(mine, apg, "cpu_us")
            out.append(f"- {workload} {conns}: CPU/query {r:.3f}x asyncpg's (bar <= "
                       f"{BAR_CPU_VS_ASYNCPG:g}): {verdict(r <= BAR_CPU_VS_ASYNCPG)}")
    return out


def machine_summary():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                         capture_output=True, text=True).stdout.strip() or "unknown"
    return f"{cpu}, {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}; weft {rev}"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="length of each run (pgbench: rounded to whole seconds)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s runs")
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i -s SCALE")
    parser.add_argument("--build", type=Path, default=REPO / "build" / "release")
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    parser.add_argument("--client", action="append", choices=sorted(CLIENTS))
    parser.add_argument("--via", choices=("tcp", "unix"), default="tcp")
    parser.add_argument("--bars", default="weft-1w", choices=WEFT,
                        help="the weft client the bars are checked for")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", action="store_true",
                        help="start the cluster, print its conninfo and keep it until "
                             "SIGINT or SIGTERM (for profiling one client by hand)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 1.0
    return args


def serve(cluster):
    """Keeps the started cluster until SIGINT or SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"conninfo: {cluster.conninfo()}\ndsn: {cluster.dsn()}\npgbench: "
          f"{' '.join(cluster.pgbench_conn())}\nscripts: {cluster.dir}\n"
          f"(SIGINT or SIGTERM stops it)", flush=True)
    for workload in ("select1", "pk"):
        pgbench_script(workload, cluster.scale, cluster.dir)
    try:
        while cluster.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    return 0


def main():
    args = parse_args()
    weft_bin = args.build / "bench" / "pg" / "weft_pg_bench"
    clients = [c for c in CLIENTS if not args.client or c in args.client]
    if not weft_bin.is_file():
        print(f"{weft_bin} is missing (cmake --build --preset release --target "
              f"weft_pg_bench): weft is left out", file=sys.stderr)
        clients = [c for c in clients if not c.startswith("weft")]
    cells = [(w, c) for w in WORKLOADS if not args.workload or w in args.workload
             for c in WORKLOADS[w]["conns"]]
    out = args.out or args.build / "pg-results.md"
    cluster = Cluster(args.scale, args.via)
    results, runs_json = {}, []
    try:
        print(f"starting PostgreSQL and pgbench -i -s {args.scale} in {cluster.dir}",
              file=sys.stderr, flush=True)
        cluster.start()
        if args.serve:
            return serve(cluster)
        ctx = Context(cluster, args.seconds, args.scale, weft_bin, cluster.dir)
        for rnd in range(args.rounds):
            for workload, conns in cells:
                present = [c for c in clients if c in WORKLOADS[workload]["clients"]]
                shift = rnd % len(present)
                for client in present[shift:] + present[:shift]:
                    r = run_client(ctx, client, workload, conns)
                    results.setdefault((workload, conns, client), []).append(r)
                    runs_json.append({"round": rnd + 1, "workload": workload, "conns": conns,
                                      "client": client, **r})
                    print(f"round {rnd + 1}/{args.rounds} {workload:8} c={conns:<2} "
                          f"{client:8} {r['qps']:9.0f} q/s {r['cpu_us']:7.2f} µs/q "
                          f"server {r['server_cpu_pct']:4.0f}%", file=sys.stderr, flush=True)
    except (PgBenchError, subprocess.SubprocessError, OSError) as error:
        print(f"run_pg.py: {error}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    loads = [r["load1"] for r in runs_json]
    doc = (f"# weft::pg against pgbench and asyncpg\n\nMedians of {args.rounds} interleaved "
           f"rounds of {args.seconds:g} s runs, via {args.via}, pgbench scale {args.scale} "
           f"({stamp}; {machine_summary()}; 1-minute load average {min(loads):.1f} to "
           f"{max(loads):.1f} over the runs).\n\n"
           + make_report(results, cells, clients, args.bars))
    print(doc)
    out.write_text(doc)
    out.with_suffix(".json").write_text(json.dumps(runs_json, indent=1) + "\n")
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
