#!/usr/bin/python3
"""The HTTP client benchmark's aiohttp client: N GETs of one URL over C keep-alive
connections, aiohttp's ClientSession on uvloop.

    /usr/bin/python3 bench/http/aiohttp_client.py --url http://127.0.0.1:PORT/hello \\
        [--requests 1000000] [--connections 64]

One ClientSession with TCPConnector(limit=C); C tasks each send GETs one after another
(the next when the last response's body is read) until N have been sent, every response
checked (status 200, body "Hello, World!"). Prints one line,

    requests=N seconds=S requests_per_sec=R cpu_s=C

timed from the first request to the last response: seconds is wall time, cpu_s this
process's user+system CPU time over the same span (interpreter start-up and imports left
out). bench/http/run_http.py's client benchmark reads that line; weft's client prints the
same. Exits with status 1 on a failed request. Needs Debian's python3-aiohttp and
python3-uvloop, hence /usr/bin/python3.
"""

import argparse
import asyncio
import sys
import time

import aiohttp
import uvloop

BODY = b"Hello, World!"


async def fetch_all(url, requests, connections):
    """Sends `requests` GETs over at most `connections` connections; returns
    (wall seconds, CPU seconds)."""
    left = requests

    async def worker(session):
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url) as response:
                body = await response.read()
                if response.status != 200 or body != BODY:
                    raise RuntimeError(f"GET {url}: status {response.status}, body {body[:64]!r}")

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        return time.perf_counter() - started, time.process_time() - cpu_started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--connections", type=int, default=64, help="default 64")
    args = parser.parse_args()
    if args.requests < 1 or args.connections < 1:
        parser.error("--requests and --connections must be at least 1")
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        seconds, cpu = asyncio.run(fetch_all(args.url, args.requests, args.connections))
    except (aiohttp.ClientError, RuntimeError, OSError) as error:
        print(f"aiohttp_client: {error}", file=sys.stderr)
        return 1
    print(f"requests={args.requests} seconds={seconds:.3f} "
          f"requests_per_sec={args.requests / seconds:.1f} cpu_s={cpu:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
