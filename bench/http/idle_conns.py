#!/usr/bin/env python3
"""Idle keep-alive connections: how much memory a server holds for 10,000 of them.

    bench/http/idle_conns.py [--server nginx|aiohttp|weft] [--connections 10000]
                             [--workers 1] [--json]
    bench/http/idle_conns.py --server-cmd "CMD ..." [...]

Starts the server (as bench/http/run_http.py does: nginx from bench/http/nginx.conf.in with
room for the connections, the aiohttp server, or BUILD/bench/http/weft-http-server; or any
command that prints "listening HOST:PORT"), reads its memory, then opens --connections
keep-alive connections, each sending one GET / and reading its "Hello, World!" response,
and leaves them all open and idle. Then it reads the memory again: VmRSS (from
/proc/PID/status) and Pss (from /proc/PID/smaps_rollup) summed over the server's processes,
the started process and its descendants (nginx's master and workers). Last, every
connection sends a second request, whose response shows the server had kept it open, and
the server is stopped with SIGTERM.

The open-file limit is raised (resource.setrlimit) for this process and so for the server
it starts, which inherits it: each side holds one descriptor per connection. At most
--concurrency connects are in flight at once, so the server's listen backlog never
overflows (an overflow costs a SYN retransmit, a second or more). Issue 17's bar is 10,000
connections in at most 64 MiB of server RSS; the output says whether a run met it. Python 3
standard library only.
"""

import argparse
import asyncio
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_http  # noqa: E402  (starting servers, /proc accounting)

BAR_CONNECTIONS = 10_000
BAR_RSS_MIB = 64
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def exchange(reader, writer):
    """One request and its response on an open connection; raises on a wrong response."""
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if not status.startswith(b"HTTP/1.1 200") or length is None:
        raise run_http.HttpBenchError(f"unexpected response head: {head[:200]!r}")
    body = await reader.readexactly(length)
    if body != run_http.BODY:
        raise run_http.HttpBenchError(f"unexpected body: {body[:64]!r}")


async def open_idle(host, port, count, concurrency):
    """`count` connections, each after one request; at most `concurrency` connecting."""
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            reader, writer = await asyncio.open_connection(host, port)
            await exchange(reader, writer)
            return reader, writer

    return await asyncio.gather(*(one() for _ in range(count)))


async def hold_and_measure(server, count, concurrency):
    """Opens the connections, measures the server, checks they are all still served."""
    connections = await open_idle(server.host, server.port, count, concurrency)
    try:
        server.check_alive()
        pids = server.pids()
        rss, pss = run_http.memory_kib(pids)
        await asyncio.gather(*(exchange(r, w) for r, w in connections))
    finally:
        for _, writer in connections:
            writer.close()
    return rss, pss, len(pids)


def measure(args):
    run_http.raise_nofile(args.connections + 1024)
    if args.server_cmd:
        server = run_http.start_command_server("server", shlex.split(args.server_cmd))
        name = args.server_cmd
    else:
        server = run_http.start_server(args.server, args.workers, None, None, args.build,
                                       args.weft_args, connections=args.connections + 1024)
        name = args.server
    with server:
        rss_before, pss_before = run_http.memory_kib(server.pids())
        rss, pss, processes = asyncio.run(
            hold_and_measure(server, args.connections, args.concurrency))
        server.stop()
    return {
        "server": name,
        "connections": args.connections,
        "processes": processes,
        "rss_kib_before": rss_before,
        "pss_kib_before": pss_before,
        "rss_kib": rss,
        "pss_kib": pss,
        "rss_bytes_per_conn": (rss - rss_before) * 1024 / args.connections,
        "pss_bytes_per_conn": (pss - pss_before) * 1024 / args.connections,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--server", choices=run_http.SERVERS, default="nginx",
                       help="default nginx")
    which.add_argument("--server-cmd", help="any server command that prints 'listening "
                       "HOST:PORT' and stops on SIGTERM (split like a shell would)")
    parser.add_argument("--connections", type=int, default=BAR_CONNECTIONS,
                        help=f"default {BAR_CONNECTIONS}")
    parser.add_argument("--workers", type=int, default=1, help="server workers (default 1)")
    parser.add_argument("--concurrency", type=int, default=256,
                        help="connects in flight at once (default 256)")
    parser.add_argument("--build", type=Path, default=run_http.REPO / "build" / "release",
                        help="build directory with bench/http/weft-http-server")
    parser.add_argument("--weft-args", default="", help="extra weft-http-server options")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.connections < 1 or args.concurrency < 1:
        parser.error("--connections and --concurrency must be at least 1")
    try:
        result = measure(args)
    except run_http.run_echo.EchoRunError as error:
        print(f"idle_conns: {error}", file=sys.stderr)
        return 1
    except (OSError, EOFError, asyncio.LimitOverrunError) as error:  # a connection's failure
        print(f"idle_conns: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
        return 0
    mib = result["rss_kib"] / 1024
    print(f"{result['server']}: {result['connections']} idle keep-alive connections, "
          f"{result['processes']} server process(es)")
    print(f"  VmRSS {result['rss_kib_before'] / 1024:.1f} MiB before, {mib:.1f} MiB with the "
          f"connections ({result['rss_bytes_per_conn']:.0f} bytes per connection)")
    print(f"  Pss   {result['pss_kib_before'] / 1024:.1f} MiB before, "
          f"{result['pss_kib'] / 1024:.1f} MiB with the connections "
          f"({result['pss_bytes_per_conn']:.0f} bytes per connection)")
    if result["connections"] >= BAR_CONNECTIONS:
        met = mib <= BAR_RSS_MIB
        print(f"  {'met' if met else 'MISSED'}: {BAR_CONNECTIONS} connections in at most "
              f"{BAR_RSS_MIB} MiB of server RSS ({mib:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
