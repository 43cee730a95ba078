#!/usr/bin/env python3
"""Runs the echo benchmark's matrix, weft-echo-server against epoll-echo-server and Tokio's
echo server, and writes the results as a markdown table.

    python3 bench/echo/run_matrix.py [--reps N] [--quick] [--build DIR] [--out FILE]
                                     [--tokio BINARY | --no-tokio] [--only SETUP]

The matrix (issue 4): 64 and 1024 connections x 64-byte and 16 KiB messages, each in three
setups:
  - pinned: one server worker/thread on CPU 0, the load generator (one thread) on CPU 1;
  - unpinned, 1 server worker/thread, load generator with 1 thread;
  - unpinned, 2 server workers/threads, load generator with 2 threads.
weft runs with --reuse-port (one listener per worker, as the reference server has one per
thread); Tokio's server (bench/peers/tokio, weft-tokio-echo: one listener, a task per
connection, the server a Tokio user writes) runs when its binary is there — by default
BUILD/tokio-peer/release/weft-tokio-echo, which tools/bench builds with cargo. Every cell
runs the servers as --reps back-to-back rounds (default 3; each round starts with the next
server in turn), each run a fresh server process (run_echo.run_once), and reports the
medians of the reps (round trips per second, p50/p99/p99.9 latency, server CPU time per
round trip, run-queue wait per round trip of the server and the load generator) and, as
the ratios weft/epoll and weft/tokio, the median of the rounds' ratios with the
interquartile range of the round-trip ratio: the machine is shared, its speed drifts by
tens of percent within minutes, and a ratio taken within a round cancels that drift where a
ratio of two medians does not. The table goes to stdout and to FILE (default
BUILD/echo-results.md); the per-run values go next to it as JSON (same name, .json). After
the table come the bars of issues 4 and 20, each marked met or missed. --only pinned or
--only unpinned-2w runs just those cells.

--quick: one rep and a third of the messages; a smoke test, not a measurement.
Round-trip counts per connection are chosen so the whole matrix takes about a minute at
--reps 3 on a 2-core machine (three to four at --reps 9, what bench/README.md reports).
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_echo  # noqa: E402  (the single-cell driver, next to this file)

REPO = Path(__file__).resolve().parents[2]
KEYS = run_echo.KEYS

# (connections, message bytes) -> measured round trips per connection (warm-up adds 10%).
COUNTS = {
    (64, 64): 3000,
    (64, 16384): 1000,
    (1024, 64): 150,
    (1024, 16384): 50,
}

# name, server workers/threads, server pin, load generator threads, load generator pin
SETUPS = [
    ("pinned", 1, "0", 1, "1"),
    ("unpinned", 1, None, 1, None),
    ("unpinned", 2, None, 2, None),
]

# The bars of issue 4.
PINNED_RT_RATIO = 0.97
PINNED_P99_RATIO = 1.2
UNPINNED_2W_RT_RATIO = 1.0
CPU_RATIO = 1.1
# Issue 20's: unpinned with 2 workers, at least Tokio's round trips with at most its p99.
TOKIO_2W_RT_RATIO = 1.0
TOKIO_2W_P99_RATIO = 1.0


def server_commands(build, workers, pin, weft_args="", tokio=None):
    """{server: command line} for one setup: weft, epoll, and tokio if `tokio` is a binary."""
    echo_dir = build / "bench" / "echo"
    commands = {
        "weft": f"{echo_dir / 'weft-echo-server'} --workers {workers} --reuse-port"
                + (f" {weft_args}" if weft_args else ""),
        "epoll": f"{echo_dir / 'epoll-echo-server'} --threads {workers}",
    }
    if tokio:
        commands["tokio"] = f"{tokio} --workers {workers}"
    if pin is not None:
        for name in commands:
            commands[name] += f" --pin {pin}"
    return commands


def setup_name(setup):
    """"pinned", "unpinned-1w" or "unpinned-2w" (--only)."""
    name, workers = setup[0], setup[1]
    return name if name == "pinned" else f"{name}-{workers}w"


def loadgen_args(connections, size, count, threads, pin):
    args = f"--connections {connections} --size {size} --count {count} --threads {threads}"
    if pin is not None:
        args += f" --pin {pin}"
    return args


def run_cell(build, setup, connections, size, reps, scale, weft_args="", tokio=None):
    """Runs one cell, the servers in rounds; returns the cell with "runs": {server: [...]}."""
    name, workers, server_pin, lg_threads, lg_pin = setup
    count = max(10, COUNTS[(connections, size)] // scale)
    commands = server_commands(build, workers, server_pin, weft_args, tokio)
    args = loadgen_args(connections, size, count, lg_threads, lg_pin)
    loadgen = [str(build / "bench" / "echo" / "echo-loadgen")] + shlex.split(args)
    order = list(commands)
    runs = {server: [] for server in order}
    for rep in range(reps):
        turn = order[rep % len(order):] + order[:rep % len(order)]
        for server in turn:
            result = run_echo.run_once(shlex.split(commands[server]), loadgen)
            runs[server].append(result)
            print(f"  {server:5} {run_echo.format_row('', result).strip()}", flush=True)
    return {"setup": name, "workers": workers, "connections": connections, "size": size,
            "count": count, "commands": commands, "loadgen_args": args, "runs": runs}


SCHED_KEYS = ("srv_runq_ns_per_rt", "lg_runq_ns_per_rt", "srv_nvcsw", "lg_nvcsw")


def medians(runs):
    return {key: statistics.median(r[key] for r in runs) for key in KEYS + SCHED_KEYS
            if all(key in r for r in runs)}


def quartiles(values):
    """(first quartile, median, third quartile) of a non-empty list."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 4], statistics.median(ordered), ordered[(3 * n) // 4]


def paired_ratios(runs, peer):
    """weft/peer per round: for each key, (q1, median, q3) over the rounds."""
    return {key: quartiles([w[key] / p[key] for w, p in zip(runs["weft"], runs[peer])])
            for key in KEYS}


def size_label(size):
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def us(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def runq(m):
    """The server's and the load generator's run-queue wait per round trip, "srv / lg" ns."""
    if "srv_runq_ns_per_rt" not in m or "lg_runq_ns_per_rt" not in m:
        return "–"
    return f"{m['srv_runq_ns_per_rt']:.0f} / {m['lg_runq_ns_per_rt']:.0f}"


def table(cells):
    """The markdown table: one row per cell, each server's medians and the ratios."""
    tokio = any("tokio" in cell for cell in cells)
    head = ("| setup | workers | conns | msg | weft rt/s | epoll rt/s | rt/s ratio (IQR) | "
            "weft p50/p99/p99.9 us | epoll p50/p99/p99.9 us | p50 ratio | p99 ratio | "
            "weft cpu ns/rt | epoll cpu ns/rt | cpu ratio |")
    rule = "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if tokio:
        head += (" tokio rt/s | weft/tokio rt/s (IQR) | tokio p50/p99/p99.9 us | "
                 "weft/tokio p99 | tokio cpu ns/rt |")
        rule += "---:|---:|---:|---:|---:|"
    head += " runq ns/rt srv / lg: weft | epoll |" + (" tokio |" if tokio else "")
    rule += "---:|---:|" + ("---:|" if tokio else "")
    lines = [head, rule]
    for cell in cells:
        w, e, r = cell["weft"], cell["epoll"], cell["ratios"]
        q1, rt, q3 = r["rt_per_sec"]
        row = (
            f"| {cell['setup']} | {cell['workers']} | {cell['connections']} | "
            f"{size_label(cell['size'])} | {w['rt_per_sec']:.0f} | {e['rt_per_sec']:.0f} | "
            f"{rt:.3f} ({q1:.2f}-{q3:.2f}) | "
            f"{us(w['p50_us'])} / {us(w['p99_us'])} / {us(w['p999_us'])} | "
            f"{us(e['p50_us'])} / {us(e['p99_us'])} / {us(e['p999_us'])} | "
            f"{r['p50_us'][1]:.2f} | {r['p99_us'][1]:.2f} | {w['cpu_ns_per_rt']:.0f} | "
            f"{e['cpu_ns_per_rt']:.0f} | {r['cpu_ns_per_rt'][1]:.3f} |")
        if tokio:
            if "tokio" in cell:
                t, tr = cell["tokio"], cell["tokio_ratios"]
                tq1, trt, tq3 = tr["rt_per_sec"]
                row += (f" {t['rt_per_sec']:.0f} | {trt:.3f} ({tq1:.2f}-{tq3:.2f}) | "
                        f"{us(t['p50_us'])} / {us(t['p99_us'])} / {us(t['p999_us'])} | "
                        f"{tr['p99_us'][1]:.2f} | {t['cpu_ns_per_rt']:.0f} |")
            else:
                row += " – | – | – | – | – |"
        row += f" {runq(w)} | {runq(e)} |"
        if tokio:
            row += f" {runq(cell['tokio']) if 'tokio' in cell else '–'} |"
        lines.append(row)
    return lines


def bars(cells):
    """The issue's bars, one line per (bar, cell): met or missed, with the numbers."""
    lines = []

    def check(label, cell, value, limit, at_least):
        met = value >= limit if at_least else value <= limit
        sign = ">=" if at_least else "<="
        lines.append(f"- {'met   ' if met else 'MISSED'} {label} "
                     f"({cell['connections']} conns, {size_label(cell['size'])}): "
                     f"{value:.3f} (bar {sign} {limit})")

    for cell in cells:
        ratios = cell["ratios"]
        rt = ratios["rt_per_sec"][1]
        if cell["setup"] == "pinned":
            check("pinned 1 worker, rt/s weft/epoll", cell, rt, PINNED_RT_RATIO, True)
            check("pinned 1 worker, p99 weft/epoll", cell, ratios["p99_us"][1],
                  PINNED_P99_RATIO, False)
        if cell["setup"] == "unpinned" and cell["workers"] == 2:
            check("unpinned 2 workers, rt/s weft/epoll", cell, rt, UNPINNED_2W_RT_RATIO, True)
            if "tokio_ratios" in cell:
                tokio = cell["tokio_ratios"]
                check("unpinned 2 workers, rt/s weft/tokio", cell, tokio["rt_per_sec"][1],
                      TOKIO_2W_RT_RATIO, True)
                check("unpinned 2 workers, p99 weft/tokio", cell, tokio["p99_us"][1],
                      TOKIO_2W_P99_RATIO, False)
    for cell in cells:
        label = f"{cell['setup']} {cell['workers']}w, cpu/rt weft/epoll"
        check(label, cell, cell["ratios"]["cpu_ns_per_rt"][1], CPU_RATIO, False)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="runs per server per cell (3)")
    parser.add_argument("--quick", action="store_true",
                        help="1 rep and a third of the messages: a smoke test")
    parser.add_argument("--build", type=Path, default=REPO / "build" / "release",
                        help="build directory with bench/echo/* (default build/release)")
    parser.add_argument("--out", type=Path, help="markdown file (default BUILD/echo-results.md)")
    parser.add_argument("--weft-args", default="",
                        help="extra weft-echo-server options, e.g. '--shared-buffer'")
    parser.add_argument("--tokio", type=Path,
                        help="Tokio's echo server (default BUILD/tokio-peer/release/"
                        "weft-tokio-echo, if it is there)")
    parser.add_argument("--no-tokio", action="store_true", help="weft and epoll only")
    parser.add_argument("--only", choices=("pinned", "unpinned-1w", "unpinned-2w"),
                        help="run only that setup's cells")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    scale = 3 if args.quick else 1
    if reps < 1:
        parser.error("--reps must be at least 1")
    for binary in ("weft-echo-server", "epoll-echo-server", "echo-loadgen"):
        if not os.access(args.build / "bench" / "echo" / binary, os.X_OK):
            print(f"run_matrix: no {binary} in {args.build}/bench/echo; build it first",
                  file=sys.stderr)
            return 1
    out = args.out or args.build / "echo-results.md"
    tokio = None
    if not args.no_tokio:
        tokio = args.tokio or args.build / "tokio-peer" / "release" / "weft-tokio-echo"
        if not os.access(tokio, os.X_OK):
            if args.tokio:
                print(f"run_matrix: {tokio} is not an executable", file=sys.stderr)
                return 1
            print(f"run_matrix: no {tokio} (tools/bench builds it): without Tokio",
                  file=sys.stderr)
            tokio = None
    setups = [s for s in SETUPS if not args.only or args.only == setup_name(s)]

    started = time.monotonic()
    cells = []
    try:
        for setup in setups:
            for connections, size in COUNTS:
                print(f"{setup[0]} {setup[1]}w, {connections} conns x {size_label(size)}",
                      flush=True)
                cell = run_cell(args.build, setup, connections, size, reps, scale,
                                args.weft_args, tokio)
                for server, runs in cell["runs"].items():
                    cell[server] = medians(runs)
                cell["ratios"] = paired_ratios(cell["runs"], "epoll")
                if "tokio" in cell["runs"]:
                    cell["tokio_ratios"] = paired_ratios(cell["runs"], "tokio")
                cells.append(cell)
    except (run_echo.EchoRunError, OSError) as error:
        print(f"run_matrix: {error}", file=sys.stderr)
        return 1
    minutes = (time.monotonic() - started) / 60

    header = [
        "# Echo benchmark: weft-echo-server vs epoll-echo-server"
        + (" and Tokio's echo server" if tokio else ""),
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, build {args.build}, {reps} rep(s) per server per cell "
        f"(back-to-back rounds; medians; ratios are medians of the rounds' ratios), "
        f"{minutes:.1f} min."
        + (" QUICK: a smoke test, not a measurement." if args.quick else "")
        + (f" weft-echo-server with `{args.weft_args}`." if args.weft_args else ""),
        "",
    ]
    text = "\n".join(header + table(cells) + ["", "Bars (issues 4 and 20):", ""] + bars(cells))
    text += "\n"
    print()
    print(text, end="")
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(cells, indent=1))
    print(f"\nwritten to {out} (per-run values: {out.with_suffix('.json')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
