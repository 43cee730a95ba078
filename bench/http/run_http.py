#!/usr/bin/env python3
"""The HTTP benchmark (issue 17): plaintext "Hello, World!" with keep-alive, servers under
wrk, and HTTP clients against nginx.

    bench/http/run_http.py matrix [--reps 5] [--duration 5] [--warmup 1] [--quick]
    bench/http/run_http.py client [--reps 5] [--requests 1000000] [--wrk-duration 10]
    bench/http/run_http.py one --server nginx|aiohttp|weft [--workers 1] [--pin 0] \\
        [--wrk-pin 1] [--connections 64] [--tls] [--reps 3] [--json]
    bench/http/run_http.py one --server-cmd "CMD ..." ...

Servers. Each serves "Hello, World!" (text/plain, 13 bytes) on GET / and GET /hello over
HTTP/1.1 keep-alive on 127.0.0.1, with its access log off:
  - nginx: Debian's nginx with bench/http/nginx.conf.in (run in the foreground from a
    temporary directory; "reuseport" on its listener; HTTPS with a certificate made at run
    time by the openssl CLI);
  - aiohttp: bench/http/aiohttp_server.py on uvloop (/usr/bin/python3);
  - weft: BUILD/bench/http/weft-http-server, taken into every run once that file exists.
    Its command line: --host H --port 0 --workers N [--tls-cert F --tls-key F]
    [--weft-args]; like aiohttp_server.py (and bench/echo's servers) it prints
    "listening HOST:PORT" on stdout once it accepts, and stops on SIGTERM with status 0.
    Pinning is done from outside with taskset, for every server alike.

A run starts a fresh server (under `taskset -c CPUS` when the cell pins it), runs wrk for
--warmup seconds (not measured), then `wrk -tT -cC -dDs --latency` (pinned with taskset to
the other CPU when the server is pinned) and reads the user+system CPU time of all the
server's processes (the started process and its descendants: nginx's master and workers)
from /proc/PID/stat just before and after it; then stops the server with SIGTERM. From
wrk's output: requests/s, the request count, and p50/p99 from its --latency distribution.
A run with socket errors or non-2xx responses fails. cpu_ns_per_req is the server's CPU
time over the measured wrk run divided by the requests wrk completed; /proc counts in
clock ticks (10 ms), so give each run a second or more.

matrix: the cells below, each with every available server, interleaved: for each rep, every
cell in turn, and in each cell the servers one after another in an order that rotates with
the rep, so a drifting machine hits every server alike and each ratio compares runs seconds
apart. Reports per cell and server the medians of the reps, and the ratios to nginx as the
median (with the interquartile range for requests/s) of the ratios within each rep.
  - pinned 1w: 1 server worker on CPU 0, wrk (1 thread) on CPU 1; 64 and 256 connections;
  - unpinned 2w: 2 server workers, wrk with 2 threads, the kernel places all; 64 and 256;
  - https pinned 1w: as pinned 1w over TLS, 64 connections (nginx and weft).

client: GETs over 64 keep-alive connections to nginx (1 worker pinned to CPU 0, a fresh
one per run), the client pinned to CPU 1, interleaved as above: wrk (runs --wrk-duration
seconds; the count comes from its output), bench/http/aiohttp_client.py (--requests GETs)
and BUILD/bench/http/weft-http-client once that file exists (command line: --url URL
--requests N --connections C; prints "requests=N seconds=S requests_per_sec=R cpu_s=C"
like aiohttp_client.py). Client CPU per request is the client's own cpu_s when it prints
one (which leaves the interpreter's start-up out), else its user+system time from wait4.
nginx's CPU use during the run is reported too: at 100% the server, not the client, set
the pace.

matrix and client print a markdown table (and the issue's bars when weft was measured)
and write it to --out (default BUILD/http-results.md or BUILD/http-client-results.md),
with the per-run values next to it as JSON (same name, .json). Every wait has a timeout;
on any failure the servers are stopped and the script exits with status 1. Needs wrk,
nginx, openssl and taskset (tools/setup installs them); Python 3 standard library only
(the aiohttp programs run under /usr/bin/python3).
"""

import argparse
import datetime
import json
import os
import platform
import pwd
import re
import resource
import shlex
import shutil
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
sys.path.insert(0, str(HERE.parent / "echo"))
import run_echo  # noqa: E402  (the "listening" line, draining and stopping a server)

PYTHON = "/usr/bin/python3"  # Debian's, with python3-aiohttp and python3-uvloop
HOST = "127.0.0.1"
BODY = b"Hello, World!"
KEYS = ("rps", "p50_us", "p99_us", "cpu_ns_per_req")
CLIENT_KEYS = ("rps", "cpu_ns_per_req", "server_cpu_pct")

# name, server workers, server CPUs, wrk threads, wrk CPUs, connections, TLS
CELLS = [
    ("pinned 1w", 1, "0", 1, "1", 64, False),
    ("pinned 1w", 1, "0", 1, "1", 256, False),
    ("unpinned 2w", 2, None, 2, None, 64, False),
    ("unpinned 2w", 2, None, 2, None, 256, False),
    ("https pinned 1w", 1, "0", 1, "1", 64, True),
]
SERVERS = ("nginx", "aiohttp", "weft")
CLIENTS = ("wrk", "aiohttp", "weft")
# Connections an nginx worker may hold in the matrix and client runs (a run needs 256).
NGINX_CONNECTIONS = 4096

# The bars of issue 17 (weft against the others), checked when weft was measured.
PINNED_VS_NGINX = 1.1
UNPINNED_VS_NGINX = 1.0
VS_AIOHTTP = 10.0
HTTPS_VS_NGINX = 1.0
CLIENT_VS_WRK = 0.9
CLIENT_VS_AIOHTTP = 5.0


class HttpBenchError(run_echo.EchoRunError):
    """A server, wrk or client that failed, timed out or printed something unexpected."""


# --- processes ---------------------------------------------------------------------------

def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def process_tree(pid):
    """`pid` and all its descendants that exist now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(entry)[1])  # field 4 of proc(5): ppid
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue  # exited while we looked
            children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pids):
    """User+system CPU time of the processes `pids` (all their threads), from /proc."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def _status_kib(path, key):
    for line in Path(path).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def memory_kib(pids):
    """(VmRSS, Pss) of the processes `pids`, summed, in KiB. RSS counts a page shared by
    nginx's master and workers once per process; Pss splits it between them."""
    rss = sum(_status_kib(f"/proc/{pid}/status", "VmRSS") for pid in pids)
    pss = sum(_status_kib(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids)
    return rss, pss


def raise_nofile(needed):
    """Raises this process's open-file limit (inherited by the servers and clients it
    starts) to at least `needed`; returns the new soft limit. The hard limit is raised
    too when it is lower, which takes CAP_SYS_RESOURCE; raises HttpBenchError if that is
    refused."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        hard = needed
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    except (ValueError, OSError) as error:
        raise HttpBenchError(f"need {needed} open files, the limit is {soft} (hard "
                             f"{resource.getrlimit(resource.RLIMIT_NOFILE)[1]}) and raising "
                             f"it failed ({error}): raise the hard limit first (ulimit "
                             f"-Hn, or nofile in /etc/security/limits.conf)") from error
    return needed


def pinned(command, cpus):
    """`command` run by `taskset -c CPUS` (which execs it: the pid stays the command's)."""
    return command if cpus is None else ["taskset", "-c", cpus] + command


def wait_with_rusage(process, timeout):
    """Waits for a subprocess.Popen at most `timeout` seconds (then kills it and raises
    HttpBenchError); returns (exit status, user+system CPU seconds) from wait4, which
    counts the child's own CPU time to the microsecond."""
    expired = threading.Event()

    def expire():
        expired.set()
        process.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if expired.is_set():
        raise HttpBenchError(f"{shlex.join(process.args)} still running after {timeout} s")
    return process.returncode, usage.ru_utime + usage.ru_stime


def find_tool(name):
    """The path of program `name`: on PATH, or in /usr/sbin (nginx, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise HttpBenchError(f"{name} not found; tools/setup installs it")
    return found


def require_tools(*names):
    for name in names:
        find_tool(name)


# --- servers -----------------------------------------------------------------------------

class Server:
    """A started server: its address, its processes, and how to stop it."""

    def __init__(self, name, process, host, port, scheme, workdir=None, drainer=None):
        self.name, self.process, self.host, self.port = name, process, host, port
        self.scheme, self.workdir, self.drainer = scheme, workdir, drainer

    def url(self, path="/"):
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def pids(self):
        return process_tree(self.process.pid)

    def check_alive(self):
        if self.process.poll() is not None:
            raise HttpBenchError(f"{self.name} died during the run (status "
                                 f"{self.process.returncode}){self.log_tail()}")

    def log_tail(self):
        """nginx's error log and stderr, for an error message."""
        if self.workdir is None:
            return ""
        text = ""
        for log in ("error.log", "stderr.log"):
            path = Path(self.workdir) / log
            if path.is_file():
                text += path.read_text()[-2000:]
        return f"\n{text}" if text else ""

    def stop(self, timeout=10.0):
        """SIGTERM (SIGKILL after `timeout` s); raises HttpBenchError if it did not exit
        with status 0."""
        status = run_echo.stop_server(self.process, timeout)
        self.close()
        if status != 0:
            raise HttpBenchError(f"{self.name} exited with status {status} after SIGTERM")

    def close(self):
        """Kills the server if it still runs and removes its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.drainer is not None:
            self.drainer.join(5)
            if not self.drainer.is_alive():
                self.process.stdout.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_command_server(name, command, cpus=None, timeout=15.0):
    """Starts a server that prints "listening HOST:PORT" and stops on SIGTERM."""
    process = subprocess.Popen(pinned(command, cpus), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE)
    try:
        host, port = run_echo.read_listening_line(process, timeout)
    except BaseException:
        process.kill()
        process.wait()
        process.stdout.close()
        raise
    drainer = threading.Thread(target=run_echo.drain, args=(process.stdout,), daemon=True)
    drainer.start()
    scheme = "https" if "--tls-cert" in command else "http"
    return Server(name, process, host, port, scheme, drainer=drainer)


def make_certificate(directory):
    """A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made with the
    openssl CLI in `directory`; returns (certificate path, key path)."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
               "-keyout", str(key), "-out", str(cert)]
    made = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    if made.returncode != 0:
        raise HttpBenchError(f"openssl req failed (status {made.returncode}):\n{made.stderr}")
    return str(cert), str(key)


def nginx_config(directory, port, workers, tls=None, master=True, connections=NGINX_CONNECTIONS,
                 reuseport=True, host=HOST):
    """bench/http/nginx.conf.in with its fields filled in; `tls` is (cert, key) or None."""
    options = (" reuseport" if reuseport else "") + (" ssl" if tls else "")
    tls_lines = ""
    if tls:
        tls_lines = (f"        ssl_certificate {tls[0]};\n"
                     f"        ssl_certificate_key {tls[1]};\n"
                     f"        ssl_protocols TLSv1.2 TLSv1.3;\n")
    user = f"user {pwd.getpwuid(0).pw_name};" if os.geteuid() == 0 else ""
    fields = {
        "MASTER_PROCESS": "on" if master else "off",
        "WORKERS": str(workers),
        "DIR": str(directory),
        "NOFILE": str(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
        "USER": user,
        "CONNECTIONS": str(connections),
        "HOST": host,
        "PORT": str(port),
        "LISTEN_OPTIONS": options,
        "TLS": tls_lines,
    }
    text = (HERE / "nginx.conf.in").read_text()
    for key, value in fields.items():
        text = text.replace(f"@{key}@", value)
    left = re.search(r"@[A-Z_]+@", text)
    if left:
        raise HttpBenchError(f"nginx.conf.in: no value for {left.group(0)}")
    return text


def start_nginx(workers=1, cpus=None, tls=None, master=True, connections=NGINX_CONNECTIONS,
                reuseport=True, host=HOST, timeout=15.0):
    """Starts nginx in the foreground from a fresh temporary directory on a free port and
    returns once it accepts connections. `tls`: (cert, key), or True to make a certificate
    in that directory, or None for plain HTTP."""
    nginx = find_tool("nginx")
    if not master and workers != 1:
        raise HttpBenchError("nginx without a master process has exactly one worker")
    workdir = tempfile.mkdtemp(prefix="weft-bench-nginx-")
    # Holds a free port until nginx listens on it. Bound, never listening, so it gets no
    # connections; SO_REUSEADDR and SO_REUSEPORT let nginx bind the port beside it with
    # or without its own "reuseport".
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    process = None
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, 0))
        port = holder.getsockname()[1]
        if tls is True:
            tls = make_certificate(workdir)
        config = Path(workdir) / "nginx.conf"
        config.write_text(nginx_config(workdir, port, workers, tls, master, connections,
                                       reuseport, host))
        with open(Path(workdir) / "stderr.log", "wb") as log:
            process = subprocess.Popen(
                pinned([nginx, "-p", workdir, "-e", f"{workdir}/error.log", "-c", str(config)],
                       cpus),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        server = Server("nginx", process, host, port, "https" if tls else "http", workdir)
        wait_until_accepting(server, timeout)
        # nginx forks its workers after it binds: wait until they all are there, so that
        # a measurement sees every process.
        expected = workers + (1 if master else 0)
        deadline = time.monotonic() + timeout
        while len(server.pids()) < expected:
            server.check_alive()
            if time.monotonic() > deadline:
                raise HttpBenchError(f"nginx has no {workers} workers after {timeout} s")
            time.sleep(0.01)
        return server
    except BaseException:
        if process is not None:
            Server("nginx", process, host, None, None, workdir).close()
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        holder.close()


def wait_until_accepting(server, timeout):
    """Connects to the server until a connection succeeds (it then listens)."""
    deadline = time.monotonic() + timeout
    while True:
        server.check_alive()
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise HttpBenchError(f"{server.name} not accepting on {server.host}:"
                                     f"{server.port} after {timeout} s{server.log_tail()}")
            time.sleep(0.01)


def weft_binary(build, name):
    return Path(build) / "bench" / "http" / name


def server_available(name, build, tls):
    """Whether the matrix runs server `name` (in a cell with or without TLS)."""
    if name == "weft":
        return os.access(weft_binary(build, "weft-http-server"), os.X_OK)
    if name == "aiohttp":
        return not tls
    return True


def start_server(name, workers, cpus, tls_files, build, weft_args="", connections=None):
    """Starts server `name` ("nginx", "aiohttp", "weft") with `workers` workers on `cpus`
    (None: unpinned), over TLS with tls_files (cert, key) unless None."""
    if name == "nginx":
        return start_nginx(workers, cpus, tls_files,
                           connections=connections or NGINX_CONNECTIONS)
    if name == "aiohttp":
        if tls_files:
            raise HttpBenchError("the aiohttp server has no TLS row")
        return start_command_server(name, [PYTHON, str(HERE / "aiohttp_server.py"), "--host",
                                           HOST, "--port", "0", "--workers", str(workers)],
                                    cpus)
    if name == "weft":
        binary = weft_binary(build, "weft-http-server")
        if not os.access(binary, os.X_OK):
            raise HttpBenchError(f"no weft-http-server at {binary}; build it with "
                                 f"cmake --build --preset release --target weft-http-server")
        command = [str(binary), "--host", HOST, "--port", "0",
                   "--workers", str(workers)]
        if tls_files:
            command += ["--tls-cert", tls_files[0], "--tls-key", tls_files[1]]
        return start_command_server(name, command + shlex.split(weft_args), cpus)
    raise HttpBenchError(f"unknown server {name!r}")


# --- wrk ---------------------------------------------------------------------------------

TIME_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def _us(value, unit):
    return float(value) * TIME_UNITS_US[unit]


def parse_wrk(text):
    """requests, seconds, rps, p50/p75/p90/p99 (us) and the error counts of wrk's output."""
    result = {}
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not match or not rps:
        raise HttpBenchError(f"unexpected wrk output:\n{text}")
    result["requests"] = int(match.group(1))
    result["seconds"] = _us(match.group(2), match.group(3)) / 1e6
    result["rps"] = float(rps.group(1))
    for percent, value, unit in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$",
                                           text, re.MULTILINE):
        result[f"p{percent}_us"] = _us(value, unit)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    result["socket_errors"] = sum(int(n) for n in errors.groups()) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def run_wrk(url, threads, connections, duration, cpus=None, latency=True, timeout=None):
    """Runs wrk; returns parse_wrk's dict plus "cpu_s" (wrk's own CPU time). Raises
    HttpBenchError when wrk fails or saw socket errors or non-2xx responses."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    command += (["--latency"] if latency else []) + [url]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(pinned(command, cpus), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
        status, cpu = wait_with_rusage(process, timeout or duration + 60)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if status != 0:
        raise HttpBenchError(f"wrk failed (status {status}): {shlex.join(command)}\n{text}")
    result = parse_wrk(text)
    if result["socket_errors"] or result["non_2xx"]:
        raise HttpBenchError(f"wrk saw {result['socket_errors']} socket errors and "
                             f"{result['non_2xx']} non-2xx responses: {shlex.join(command)}"
                             f"\n{text}")
    result["cpu_s"] = cpu
    return result


# --- one server run ----------------------------------------------------------------------

def measure(server, threads, connections, duration, warmup, wrk_cpus):
    """wrk against a started server: a warm-up, then the measured run; returns the result
    dict (KEYS, the request count, wrk's other values, the server's CPU seconds)."""
    url = server.url("/")
    if warmup > 0:
        run_wrk(url, threads, connections, warmup, wrk_cpus, latency=False)
    pids = server.pids()
    cpu_before = cpu_seconds(pids)
    result = run_wrk(url, threads, connections, duration, wrk_cpus)
    server.check_alive()
    server_cpu = cpu_seconds(pids) - cpu_before
    result["server_cpu_s"] = server_cpu
    result["server_processes"] = len(pids)
    result["cpu_ns_per_req"] = server_cpu * 1e9 / result["requests"]
    return result


def run_server_once(name, cell, duration, warmup, tls_files, build, weft_args=""):
    """One fresh server of `name` in `cell` (a CELLS entry) under wrk; returns the result."""
    _, workers, server_cpus, threads, wrk_cpus, connections, tls = cell
    server = start_server(name, workers, server_cpus, tls_files if tls else None, build,
                          weft_args)
    with server:
        result = measure(server, threads, connections, duration, warmup, wrk_cpus)
        server.stop()
    result["loadavg"] = os.getloadavg()[0]
    return result


def format_run(values):
    return (f"{values['rps']:>10.0f} req/s  p50 {values['p50_us']:8.1f} us  "
            f"p99 {values['p99_us']:8.1f} us  server cpu {values['cpu_ns_per_req']:7.0f} ns/req")


# --- matrix ------------------------------------------------------------------------------

def quartiles(values):
    """(first quartile, median, third quartile) of a non-empty list."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 4], statistics.median(ordered), ordered[(3 * n) // 4]


def rotated(names, rep):
    shift = rep % len(names)
    return list(names[shift:]) + list(names[:shift])


def cell_label(cell):
    return f"{cell[0]}, {cell[5]} conns"


def run_matrix(args, servers, tls_files):
    """Every rep runs every cell, each with every server (order rotating per rep); returns
    one dict per cell with the runs of each server."""
    cells = [{"cell": cell, "runs": {name: [] for name in servers
                                     if server_available(name, args.build, cell[6])}}
             for cell in CELLS]
    for rep in range(args.reps):
        for entry in cells:
            cell = entry["cell"]
            print(f"rep {rep + 1}/{args.reps}: {cell_label(cell)}", flush=True)
            for name in rotated(list(entry["runs"]), rep):
                result = run_server_once(name, cell, args.duration, args.warmup, tls_files,
                                         args.build, args.weft_args)
                entry["runs"][name].append(result)
                print(f"  {name:8} {format_run(result)}", flush=True)
    return cells


def summarize(runs, keys):
    return {key: statistics.median(r[key] for r in runs) for key in keys}


def ratios(runs, name, base, keys):
    """name/base for each key: (q1, median, q3) over the reps' ratios."""
    return {key: quartiles([a[key] / b[key] for a, b in zip(runs[name], runs[base])])
            for key in keys}


def us(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def matrix_table(cells):
    lines = [
        "| cell | conns | server | req/s | p50 us | p99 us | server cpu ns/req | "
        "req/s vs nginx (IQR) | p99 vs nginx | cpu vs nginx |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in cells:
        cell, runs = entry["cell"], entry["runs"]
        for name in runs:
            m = summarize(runs[name], KEYS)
            if name == "nginx":
                versus = "1 | 1 | 1"
            else:
                r = ratios(runs, name, "nginx", KEYS)
                q1, rps, q3 = r["rps"]
                versus = (f"{rps:.3f} ({q1:.2f}-{q3:.2f}) | {r['p99_us'][1]:.2f} | "
                          f"{r['cpu_ns_per_req'][1]:.2f}")
            lines.append(f"| {cell[0]} | {cell[5]} | {name} | {m['rps']:.0f} | "
                         f"{us(m['p50_us'])} | {us(m['p99_us'])} | "
                         f"{m['cpu_ns_per_req']:.0f} | {versus} |")
    return lines


def check(lines, label, value, limit, at_least):
    met = value >= limit if at_least else value <= limit
    sign = ">=" if at_least else "<="
    lines.append(f"- {'met   ' if met else 'MISSED'} {label}: {value:.3f} (bar {sign} {limit})")


def matrix_bars(cells):
    """Issue 17's server bars, one line each: met or missed, with the ratio."""
    lines = []
    for entry in cells:
        cell, runs = entry["cell"], entry["runs"]
        if "weft" not in runs:
            continue
        label = cell_label(cell)
        vs_nginx = ratios(runs, "weft", "nginx", KEYS)
        if cell[0] == "pinned 1w":
            check(lines, f"{label}, req/s weft/nginx", vs_nginx["rps"][1], PINNED_VS_NGINX, True)
            check(lines, f"{label}, p99 weft/nginx", vs_nginx["p99_us"][1], 1.0, False)
        elif cell[0] == "unpinned 2w":
            check(lines, f"{label}, req/s weft/nginx", vs_nginx["rps"][1], UNPINNED_VS_NGINX,
                  True)
        else:
            check(lines, f"{label}, req/s weft/nginx", vs_nginx["rps"][1], HTTPS_VS_NGINX, True)
        if "aiohttp" in runs:
            check(lines, f"{label}, req/s weft/aiohttp",
                  ratios(runs, "weft", "aiohttp", KEYS)["rps"][1], VS_AIOHTTP, True)
    return lines or ["- weft-http-server not built: no bar checked."]


# --- client benchmark --------------------------------------------------------------------

def parse_client(text):
    """The key=value pairs of a client's "requests=..." line."""
    for line in text.splitlines():
        if line.startswith("requests="):
            pairs = (pair.split("=", 1) for pair in line.split())
            return {key: float(value) for key, value in pairs}
    raise HttpBenchError(f"no result line in the client's output:\n{text}")


def run_client_program(command, timeout):
    """Runs a client that prints "requests=N seconds=S requests_per_sec=R [cpu_s=C]";
    returns its values, with cpu_s from wait4 when it printed none."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT)
        status, cpu = wait_with_rusage(process, timeout)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if status != 0:
        raise HttpBenchError(f"client failed (status {status}): {shlex.join(command)}\n{text}")
    values = parse_client(text)
    values.setdefault("cpu_s", cpu)
    return {"requests": int(values["requests"]), "seconds": values["seconds"],
            "rps": values["requests_per_sec"], "cpu_s": values["cpu_s"]}


def client_available(name, build):
    if name == "weft":
        return os.access(weft_binary(build, "weft-http-client"), os.X_OK)
    return True


def run_client_once(name, args):
    """One client run against a fresh nginx (1 worker, CPU 0), the client on CPU 1."""
    with start_nginx(1, "0") as server:
        url = server.url("/hello")
        pids = server.pids()
        cpu_before, started = cpu_seconds(pids), time.monotonic()
        if name == "wrk":
            result = run_wrk(url, 1, args.connections, args.wrk_duration, "1", latency=False)
            result = {key: result[key] for key in ("requests", "seconds", "rps", "cpu_s")}
        else:
            if name == "aiohttp":
                command = [PYTHON, str(HERE / "aiohttp_client.py")]
            else:
                command = [str(weft_binary(args.build, "weft-http-client"))]
            command += ["--url", url, "--requests", str(args.requests), "--connections",
                        str(args.connections)]
            result = run_client_program(pinned(command, "1"), args.run_timeout)
        wall = time.monotonic() - started
        server.check_alive()
        server_cpu = cpu_seconds(pids) - cpu_before
        server.stop()
    result["cpu_ns_per_req"] = result["cpu_s"] * 1e9 / result["requests"]
    result["server_cpu_pct"] = 100 * server_cpu / wall
    result["loadavg"] = os.getloadavg()[0]
    return result


def run_clients(args):
    runs = {name: [] for name in CLIENTS if client_available(name, args.build)}
    for rep in range(args.reps):
        print(f"rep {rep + 1}/{args.reps}", flush=True)
        for name in rotated(list(runs), rep):
            result = run_client_once(name, args)
            runs[name].append(result)
            print(f"  {name:8} {result['requests']:>9} requests  {result['rps']:>10.0f} req/s  "
                  f"client cpu {result['cpu_ns_per_req']:7.0f} ns/req  "
                  f"nginx cpu {result['server_cpu_pct']:3.0f}%", flush=True)
    return runs


def client_table(runs):
    lines = [
        "| client | requests | req/s | client cpu ns/req | nginx cpu % | req/s vs wrk (IQR) | "
        "cpu vs wrk |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in runs:
        m = summarize(runs[name], CLIENT_KEYS)
        requests = statistics.median(r["requests"] for r in runs[name])
        if name == "wrk":
            versus = "1 | 1"
        else:
            r = ratios(runs, name, "wrk", CLIENT_KEYS)
            q1, rps, q3 = r["rps"]
            versus = f"{rps:.3f} ({q1:.2f}-{q3:.2f}) | {r['cpu_ns_per_req'][1]:.2f}"
        lines.append(f"| {name} | {requests:.0f} | {m['rps']:.0f} | {m['cpu_ns_per_req']:.0f} | "
                     f"{m['server_cpu_pct']:.0f} | {versus} |")
    return lines


def client_bars(runs):
    if "weft" not in runs:
        return ["- weft-http-client not built: no bar checked."]
    lines = []
    check(lines, "client req/s weft/wrk", ratios(runs, "weft", "wrk", CLIENT_KEYS)["rps"][1],
          CLIENT_VS_WRK, True)
    check(lines, "client req/s weft/aiohttp",
          ratios(runs, "weft", "aiohttp", CLIENT_KEYS)["rps"][1], CLIENT_VS_AIOHTTP, True)
    return lines


# --- command line ------------------------------------------------------------------------

def session_header(title, args, minutes, details):
    load = os.getloadavg()
    return [
        f"# {title}",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        f"(1 / 5 / 15 min, at the end), build {args.build}, {args.reps} rep(s), {details}, "
        f"{minutes:.1f} min." + (" QUICK: a smoke test, not a measurement."
                                 if getattr(args, "quick", False) else ""),
        "",
    ]


def write_results(out, text, data):
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    print(f"\nwritten to {out} (per-run values: {out.with_suffix('.json')})")


def main_matrix(args):
    if args.quick:
        args.reps, args.duration, args.warmup = 1, 1, 0
    require_tools("wrk", "nginx", "openssl", "taskset")
    servers = [name for name in SERVERS if name not in args.skip]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="weft-bench-tls-") as directory:
        tls_files = make_certificate(directory)
        cells = run_matrix(args, servers, tls_files)
    minutes = (time.monotonic() - started) / 60
    details = (f"wrk {args.duration} s per run after a {args.warmup} s warm-up; medians; "
               f"ratios are medians of each rep's ratios")
    text = "\n".join(session_header("HTTP server benchmark", args, minutes, details)
                     + matrix_table(cells) + ["", "Bars (issue 17):", ""]
                     + matrix_bars(cells)) + "\n"
    print()
    print(text, end="")
    data = [{"cell": dict(zip(("setup", "workers", "server_cpus", "wrk_threads", "wrk_cpus",
                                "connections", "tls"), entry["cell"])),
             "runs": entry["runs"]} for entry in cells]
    write_results(args.out or args.build / "http-results.md", text, data)
    return 0


def main_client(args):
    if args.quick:
        args.reps, args.requests, args.wrk_duration = 1, 5_000, 1
    require_tools("wrk", "nginx", "taskset")
    started = time.monotonic()
    runs = run_clients(args)
    minutes = (time.monotonic() - started) / 60
    details = (f"{args.connections} connections, {args.requests} requests per client run, "
               f"wrk {args.wrk_duration} s per run; nginx 1 worker on CPU 0, client on CPU 1")
    text = "\n".join(session_header("HTTP client benchmark", args, minutes, details)
                     + client_table(runs) + ["", "Bars (issue 17):", ""]
                     + client_bars(runs)) + "\n"
    print()
    print(text, end="")
    write_results(args.out or args.build / "http-client-results.md", text, runs)
    return 0


def main_one(args):
    require_tools("wrk", "taskset")
    if args.server_cmd and args.tls:
        raise HttpBenchError("--tls needs --server (a --server-cmd serves what it serves)")
    cell = ("one", args.workers, args.pin, args.wrk_threads, args.wrk_pin, args.connections,
            args.tls)
    runs = []
    with tempfile.TemporaryDirectory(prefix="weft-bench-tls-") as directory:
        tls_files = make_certificate(directory) if args.tls else None
        for _ in range(args.reps):
            if args.server_cmd:
                server = start_command_server("server", shlex.split(args.server_cmd), args.pin)
                with server:
                    result = measure(server, args.wrk_threads, args.connections, args.duration,
                                     args.warmup, args.wrk_pin)
                    server.stop()
            else:
                result = run_server_once(args.server, cell, args.duration, args.warmup,
                                         tls_files, args.build, args.weft_args)
            runs.append(result)
    summary = summarize(runs, KEYS)
    if args.json:
        summary["reps"] = runs
        print(json.dumps(summary))
        return 0
    for index, values in enumerate(runs, 1):
        print(f"rep {index:2}  {format_run(values)}")
    print(f"median  {format_run(summary)}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)

    def common(p):
        p.add_argument("--build", type=Path, default=REPO / "build" / "release",
                       help="build directory with bench/http/weft-http-* (default "
                       "build/release)")
        p.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")

    matrix = sub.add_parser("matrix", help="the server matrix, interleaved")
    common(matrix)
    matrix.add_argument("--duration", type=int, default=5, help="wrk seconds per run (5)")
    matrix.add_argument("--warmup", type=int, default=1, help="wrk warm-up seconds (1)")
    matrix.add_argument("--quick", action="store_true",
                        help="1 rep of 1 s, no warm-up: a smoke test")
    matrix.add_argument("--skip", action="append", default=[], choices=SERVERS,
                        help="leave a server out (repeatable)")
    matrix.add_argument("--weft-args", default="", help="extra weft-http-server options")
    matrix.add_argument("--out", type=Path, help="markdown file (default BUILD/http-results.md)")

    client = sub.add_parser("client", help="the client benchmark against nginx")
    common(client)
    client.add_argument("--requests", type=int, default=1_000_000,
                        help="GETs per aiohttp/weft client run (default 1,000,000)")
    client.add_argument("--connections", type=int, default=64, help="default 64")
    client.add_argument("--wrk-duration", type=int, default=10,
                        help="wrk's seconds per run (default 10)")
    client.add_argument("--run-timeout", type=float, default=900,
                        help="seconds a client run may take (default 900)")
    client.add_argument("--quick", action="store_true",
                        help="1 rep, 5,000 requests, wrk 1 s: a smoke test")
    client.add_argument("--out", type=Path,
                        help="markdown file (default BUILD/http-client-results.md)")

    one = sub.add_parser("one", help="one server, one cell")
    common(one)
    one.set_defaults(reps=1)
    which = one.add_mutually_exclusive_group(required=True)
    which.add_argument("--server", choices=SERVERS)
    which.add_argument("--server-cmd", help="any server command that prints 'listening "
                       "HOST:PORT' and stops on SIGTERM (split like a shell would)")
    one.add_argument("--workers", type=int, default=1)
    one.add_argument("--pin", help="server CPUs for taskset -c (default: unpinned)")
    one.add_argument("--wrk-pin", help="wrk's CPUs for taskset -c (default: unpinned)")
    one.add_argument("--wrk-threads", type=int, default=1)
    one.add_argument("--connections", type=int, default=64)
    one.add_argument("--duration", type=int, default=5, help="wrk seconds (default 5)")
    one.add_argument("--warmup", type=int, default=1, help="wrk warm-up seconds (default 1)")
    one.add_argument("--tls", action="store_true", help="HTTPS (nginx, weft)")
    one.add_argument("--weft-args", default="", help="extra weft-http-server options")
    one.add_argument("--json", action="store_true", help="print one JSON object")

    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    handlers = {"matrix": main_matrix, "client": main_client, "one": main_one}
    try:
        return handlers[args.mode](args)
    except (run_echo.EchoRunError, OSError, subprocess.SubprocessError) as error:
        print(f"run_http: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
