#!/usr/bin/env python3
"""Runs one echo server against echo-loadgen and reports throughput, latency and server CPU.

    bench/echo/run_echo.py \\
        --server "build/release/bench/echo/epoll-echo-server --threads 1 --pin 0 --port 0" \\
        --loadgen-args "--connections 64 --size 64 --count 20000 --pin 1" [--reps 3] [--json]

The server is any command (split like a shell would, run without one) that prints
"listening HOST:PORT" on stdout once it accepts connections, and stops on SIGTERM: the
reference epoll-echo-server, and weft's echo server alike. For every repetition the script
starts the server, reads the port from that line, runs echo-loadgen with
"--host HOST --port PORT" and --loadgen-args, and reads the server's user+system CPU time
from /proc/PID/stat just before and just after the load generator ran, and where the
server's and the load generator's threads waited (run-queue wait and context switches from
/proc/PID/task/TID/schedstat and status). Then it stops the
server with SIGTERM (SIGKILL if it is still there after --stop-timeout).

cpu_ns_per_rt is that CPU time divided by all the round trips the load generator made,
warm-up included, because the server served those too. /proc/PID/stat counts in clock
ticks (usually 10 ms), so give each run a second or more of server CPU.

Output: one line per repetition and one with the median of each value, or with --json one
JSON object: {"rt_per_sec", "p50_us", "p99_us", "p999_us", "cpu_ns_per_rt"} (the medians)
plus "reps", the list of per-repetition dicts. Every wait has a timeout; on any failure the
server is killed and the script exits with status 1. Python 3 standard library only.
"""

import argparse
import json
import os
import re
import selectors
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

KEYS = ("rt_per_sec", "p50_us", "p99_us", "p999_us", "cpu_ns_per_rt")
LISTENING = re.compile(rb"listening\s+(\S+):(\d+)")
REPO = Path(__file__).resolve().parents[2]


class EchoRunError(Exception):
    """A server or load generator that failed, timed out or printed something unexpected."""


def read_listening_line(server, timeout):
    """Returns (host, port) from the server's "listening HOST:PORT" line, waiting at most
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        while b"\n" not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EchoRunError(f"no 'listening' line from the server in {timeout} s")
            if not selector.select(left):
                continue
            chunk = os.read(server.stdout.fileno(), 4096)
            if not chunk:
                raise EchoRunError(f"server exited (status {server.wait(1)}) before listening")
            seen += chunk
    match = LISTENING.search(seen)
    if not match:
        raise EchoRunError(f"unexpected first line from the server: {seen!r}")
    return match.group(1).decode(), int(match.group(2))


def drain(pipe):
    """Reads and drops what the server prints after its "listening" line, so that a full
    pipe never blocks it. Ends when the server closes its stdout (at exit)."""
    while os.read(pipe.fileno(), 65536):
        pass


def cpu_seconds(pid):
    """User+system CPU time of process `pid` (all its threads) from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def sched_totals(pid):
    """(run ns, run-queue wait ns, voluntary switches, involuntary switches) of process
    `pid`, summed over its threads now (/proc/PID/task/TID/schedstat and status); None once
    the process is gone. A thread that ended takes its counts with it."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    run = wait = voluntary = involuntary = 0
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        run += int(fields[0])
        wait += int(fields[1])
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    return run, wait, voluntary, involuntary


class SchedSampler(threading.Thread):
    """Reads sched_totals(pid) every `interval` seconds until the process is gone or stop()
    is called; `last` is the latest reading (the last interval before an exit is missed)."""

    def __init__(self, pid, interval=0.01):
        super().__init__(daemon=True)
        self.pid, self.interval, self.last = pid, interval, None
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            totals = sched_totals(self.pid)
            if totals is None:
                return
            # The counters only grow while the process lives; an exited one (a zombie not yet
            # reaped) reads as less, and is not its last reading.
            if self.last is None or totals[0] >= self.last[0]:
                self.last = totals
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        self.join()


def parse_loadgen_output(text):
    """The key=value pairs of echo-loadgen's machine-readable line."""
    for line in text.splitlines():
        if line.startswith("rt_per_sec="):
            pairs = (pair.split("=", 1) for pair in line.split())
            return {key: int(value) if value.isdigit() else float(value)
                    for key, value in pairs}
    raise EchoRunError(f"no result line in the load generator's output:\n{text}")


def stop_server(server, timeout):
    """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit status."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            return server.wait(timeout)
        except subprocess.TimeoutExpired:
            server.kill()
    return server.wait(timeout)


def run_once(server_cmd, loadgen_cmd, start_timeout=10.0, run_timeout=300.0,
             stop_timeout=5.0):
    """One server start, one load generator run and one server stop; returns the result dict
    (KEYS plus the load generator's other values). Raises EchoRunError on any failure."""
    server = subprocess.Popen(server_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    drainer = threading.Thread(target=drain, args=(server.stdout,), daemon=True)
    try:
        host, port = read_listening_line(server, start_timeout)
        drainer.start()
        command = loadgen_cmd + ["--host", host, "--port", str(port)]
        cpu_before = cpu_seconds(server.pid)
        sched_before = sched_totals(server.pid)
        loadgen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        sampler = SchedSampler(loadgen.pid)
        sampler.start()
        try:
            out, err = loadgen.communicate(timeout=run_timeout)
        except subprocess.TimeoutExpired as error:
            loadgen.kill()
            loadgen.communicate()
            raise EchoRunError(f"load generator still running after {run_timeout} s") from error
        finally:
            sampler.stop()
        if server.poll() is not None:
            raise EchoRunError(f"server died during the run (status {server.returncode})")
        cpu_after = cpu_seconds(server.pid)
        sched_after = sched_totals(server.pid)
        if loadgen.returncode != 0:
            raise EchoRunError(f"load generator failed (status {loadgen.returncode}):\n"
                               f"{out}{err}")
        result = parse_loadgen_output(out)
        status = stop_server(server, stop_timeout)
        if status != 0:
            raise EchoRunError(f"server exited with status {status} after SIGTERM")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if drainer.is_alive():
            drainer.join(stop_timeout)
        if not drainer.is_alive():
            server.stdout.close()
    round_trips = result["round_trips"] + result["warmup_round_trips"]
    result["cpu_ns_per_rt"] = (cpu_after - cpu_before) * 1e9 / round_trips
    result["server_cpu_s"] = cpu_after - cpu_before
    # Where the time went besides computing: how long the threads that had work waited for a
    # CPU (run-queue wait), and how often they gave one up (voluntary: to wait) or had it
    # taken (involuntary: preempted), for the server during the run and for the load
    # generator over its life (sampled every 10 ms: its last moments are missed).
    if sched_before and sched_after:
        result["srv_runq_ns_per_rt"] = (sched_after[1] - sched_before[1]) / round_trips
        result["srv_vcsw"] = sched_after[2] - sched_before[2]
        result["srv_nvcsw"] = sched_after[3] - sched_before[3]
    if sampler.last:
        result["lg_runq_ns_per_rt"] = sampler.last[1] / round_trips
        result["lg_vcsw"] = sampler.last[2]
        result["lg_nvcsw"] = sampler.last[3]
    return result


def default_loadgen(server_cmd):
    """echo-loadgen next to the server binary if it is there, else the release build's."""
    beside = Path(server_cmd[0]).resolve().parent / "echo-loadgen"
    if beside.is_file():
        return str(beside)
    return str(REPO / "build" / "release" / "bench" / "echo" / "echo-loadgen")


def run(server, loadgen_args="", loadgen=None, reps=1, **timeouts):
    """Runs `reps` repetitions; returns the medians of KEYS plus "reps", the per-run dicts.
    `server` and `loadgen_args` are command-line strings; raises EchoRunError on failure."""
    server_cmd = shlex.split(server)
    loadgen = loadgen or default_loadgen(server_cmd)
    if not os.access(loadgen, os.X_OK):
        raise EchoRunError(f"no echo-loadgen at {loadgen}; build it or pass --loadgen")
    loadgen_cmd = [loadgen] + shlex.split(loadgen_args)
    runs = [run_once(server_cmd, loadgen_cmd, **timeouts) for _ in range(reps)]
    summary = {key: statistics.median(r[key] for r in runs) for key in KEYS}
    summary["reps"] = runs
    return summary


def format_row(label, values):
    row = (f"{label:>6}  {values['rt_per_sec']:>12.0f} rt/s  p50 {values['p50_us']:9.1f} us  "
           f"p99 {values['p99_us']:9.1f} us  p99.9 {values['p999_us']:9.1f} us  "
           f"server cpu {values['cpu_ns_per_rt']:8.0f} ns/rt")
    if "srv_runq_ns_per_rt" in values and "lg_runq_ns_per_rt" in values:
        row += (f"  runq srv/lg {values['srv_runq_ns_per_rt']:6.0f}/"
                f"{values['lg_runq_ns_per_rt']:6.0f} ns/rt  nvcsw srv/lg "
                f"{values['srv_nvcsw']}/{values['lg_nvcsw']}")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True,
                        help="server command line; must print 'listening HOST:PORT'")
    parser.add_argument("--loadgen", help="echo-loadgen binary (default: next to the "
                        "server binary, else build/release/bench/echo/echo-loadgen)")
    parser.add_argument("--loadgen-args", default="",
                        help="extra echo-loadgen options, e.g. '--connections 64 --size 64'")
    parser.add_argument("--reps", type=int, default=1, help="repetitions (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--start-timeout", type=float, default=10.0,
                        help="seconds to wait for the 'listening' line (default 10)")
    parser.add_argument("--run-timeout", type=float, default=300.0,
                        help="seconds the load generator may run (default 300)")
    parser.add_argument("--stop-timeout", type=float, default=5.0,
                        help="seconds to wait for the server after SIGTERM (default 5)")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    try:
        summary = run(args.server, args.loadgen_args, args.loadgen, args.reps,
                      start_timeout=args.start_timeout, run_timeout=args.run_timeout,
                      stop_timeout=args.stop_timeout)
    except (EchoRunError, OSError) as error:
        print(f"run_echo: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary))
        return 0
    for index, values in enumerate(summary["reps"], 1):
        print(format_row(f"rep {index}", values))
    print(format_row("median", summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
