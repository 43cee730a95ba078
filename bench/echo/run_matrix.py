#!/usr/bin/env python3
"""Runs the echo benchmark's matrix, weft-echo-server against epoll-echo-server, and writes
the results as a markdown table.

    python3 bench/echo/run_matrix.py [--reps N] [--quick] [--build DIR] [--out FILE]

The matrix (issue 4): 64 and 1024 connections x 64-byte and 16 KiB messages, each in three
setups:
  - pinned: one server worker/thread on CPU 0, the load generator (one thread) on CPU 1;
  - unpinned, 1 server worker/thread, load generator with 1 thread;
  - unpinned, 2 server workers/threads, load generator with 2 threads.
weft runs with --reuse-port (one listener per worker, as the reference server has one per
thread). Every cell runs the two servers as --reps back-to-back pairs (default 3; weft
first in odd pairs, epoll first in even ones), each run a fresh server process
(run_echo.run_once), and reports the medians of the reps (round trips per second,
p50/p99/p99.9 latency, server CPU time per round trip) and, as the ratios weft/epoll, the
median of the pairs' ratios with the interquartile range of the round-trip ratio: the
machine is shared, its speed drifts by tens of percent within minutes, and a ratio taken
within a pair cancels that drift where a ratio of two medians does not. The table goes to
stdout and to FILE (default BUILD/echo-results.md); the per-run values go next to it as
JSON (same name, .json). After the table come the issue's bars, each marked met or missed.

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


def server_commands(build, workers, pin, weft_args=""):
    """The (weft, epoll) server command lines for one setup."""
    echo_dir = build / "bench" / "echo"
    weft = f"{echo_dir / 'weft-echo-server'} --workers {workers} --reuse-port"
    if weft_args:
        weft += f" {weft_args}"
    epoll = f"{echo_dir / 'epoll-echo-server'} --threads {workers}"
    if pin is not None:
        weft += f" --pin {pin}"
        epoll += f" --pin {pin}"
    return weft, epoll


def loadgen_args(connections, size, count, threads, pin):
    args = f"--connections {connections} --size {size} --count {count} --threads {threads}"
    if pin is not None:
        args += f" --pin {pin}"
    return args


def run_cell(build, setup, connections, size, reps, scale, weft_args=""):
    """Runs one cell, weft and epoll alternately; returns {"weft": [...], "epoll": [...]}."""
    name, workers, server_pin, lg_threads, lg_pin = setup
    count = max(10, COUNTS[(connections, size)] // scale)
    weft_cmd, epoll_cmd = server_commands(build, workers, server_pin, weft_args)
    args = loadgen_args(connections, size, count, lg_threads, lg_pin)
    loadgen = [str(build / "bench" / "echo" / "echo-loadgen")] + shlex.split(args)
    runs = {"weft": [], "epoll": []}
    pair = (("weft", weft_cmd), ("epoll", epoll_cmd))
    for rep in range(reps):
        for server, command in (pair if rep % 2 == 0 else pair[::-1]):
            result = run_echo.run_once(shlex.split(command), loadgen)
            runs[server].append(result)
            print(f"  {server:5} {run_echo.format_row('', result).strip()}", flush=True)
    return {"setup": name, "workers": workers, "connections": connections, "size": size,
            "count": count, "weft_cmd": weft_cmd, "epoll_cmd": epoll_cmd,
            "loadgen_args": args, "runs": runs}


def medians(runs):
    return {key: statistics.median(r[key] for r in runs) for key in KEYS}


def quartiles(values):
    """(first quartile, median, third quartile) of a non-empty list."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 4], statistics.median(ordered), ordered[(3 * n) // 4]


def paired_ratios(runs):
    """weft/epoll per pair of runs: for each key, (q1, median, q3) over the pairs."""
    return {key: quartiles([w[key] / e[key] for w, e in zip(runs["weft"], runs["epoll"])])
            for key in KEYS}


def size_label(size):
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def us(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def table(cells):
    """The markdown table: one row per cell, weft and epoll medians and the ratios."""
    lines = [
        "| setup | workers | conns | msg | weft rt/s | epoll rt/s | rt/s ratio (IQR) | "
        "weft p50/p99/p99.9 us | epoll p50/p99/p99.9 us | p50 ratio | p99 ratio | "
        "weft cpu ns/rt | epoll cpu ns/rt | cpu ratio |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cells:
        w, e, r = cell["weft"], cell["epoll"], cell["ratios"]
        q1, rt, q3 = r["rt_per_sec"]
        lines.append(
            f"| {cell['setup']} | {cell['workers']} | {cell['connections']} | "
            f"{size_label(cell['size'])} | {w['rt_per_sec']:.0f} | {e['rt_per_sec']:.0f} | "
            f"{rt:.3f} ({q1:.2f}-{q3:.2f}) | "
            f"{us(w['p50_us'])} / {us(w['p99_us'])} / {us(w['p999_us'])} | "
            f"{us(e['p50_us'])} / {us(e['p99_us'])} / {us(e['p999_us'])} | "
            f"{r['p50_us'][1]:.2f} | {r['p99_us'][1]:.2f} | {w['cpu_ns_per_rt']:.0f} | "
            f"{e['cpu_ns_per_rt']:.0f} | {r['cpu_ns_per_rt'][1]:.3f} |")
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

    started = time.monotonic()
    cells = []
    try:
        for setup in SETUPS:
            for connections, size in COUNTS:
                print(f"{setup[0]} {setup[1]}w, {connections} conns x {size_label(size)}",
                      flush=True)
                cell = run_cell(args.build, setup, connections, size, reps, scale,
                                args.weft_args)
                cell["weft"] = medians(cell["runs"]["weft"])
                cell["epoll"] = medians(cell["runs"]["epoll"])
                cell["ratios"] = paired_ratios(cell["runs"])
                cells.append(cell)
    except (run_echo.EchoRunError, OSError) as error:
        print(f"run_matrix: {error}", file=sys.stderr)
        return 1
    minutes = (time.monotonic() - started) / 60

    header = [
        f"# Echo benchmark: weft-echo-server vs epoll-echo-server",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, build {args.build}, {reps} rep(s) per server per cell "
        f"(back-to-back pairs; medians; ratios are medians of the pairs' ratios), "
        f"{minutes:.1f} min."
        + (" QUICK: a smoke test, not a measurement." if args.quick else "")
        + (f" weft-echo-server with `{args.weft_args}`." if args.weft_args else ""),
        "",
    ]
    text = "\n".join(header + table(cells) + ["", "Bars (issue 4):", ""] + bars(cells)) + "\n"
    print()
    print(text, end="")
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(cells, indent=1))
    print(f"\nwritten to {out} (per-run values: {out.with_suffix('.json')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
