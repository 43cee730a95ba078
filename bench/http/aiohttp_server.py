#!/usr/bin/python3
"""The HTTP benchmark's aiohttp server: "Hello, World!" (text/plain, 13 bytes) on GET / and
GET /hello, aiohttp on uvloop, access log off.

    /usr/bin/python3 bench/http/aiohttp_server.py [--host 127.0.0.1] [--port 0] [--workers N]

Prints "listening HOST:PORT" on stdout once it accepts connections (port 0: a free port,
the one printed) and stops on SIGTERM with status 0, like bench/echo's servers, so
bench/http/run_http.py drives it like any other server. With --workers N > 1 the process
forks N worker processes, each with its own SO_REUSEPORT listener on the port (the kernel
spreads connections over them, as nginx's "reuseport" does), and forwards SIGTERM to them;
with one worker the process serves itself. Needs Debian's python3-aiohttp and
python3-uvloop, hence /usr/bin/python3.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys

import uvloop
from aiohttp import web

BODY = "Hello, World!"
# nginx's default listen backlog, so that both servers take a burst of connects alike.
BACKLOG = 511


async def hello(request):
    return web.Response(text=BODY, content_type="text/plain")


def listener(host, port, reuse_port):
    """A listening TCP socket on host:port (SO_REUSEPORT when reuse_port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


async def serve(sock, ready):
    """Serves on `sock` until SIGTERM; calls ready() once the site accepts."""
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=BACKLOG).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready()
    await stop.wait()
    await runner.cleanup()


def run_worker(sock, ready):
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(sock, ready))


def announce(host, port):
    print(f"listening {host}:{port}", flush=True)


def serve_forked(host, port, workers):
    """Forks `workers` processes on one SO_REUSEPORT port; returns the exit status."""
    # Holds the port (bound, not listening: the kernel gives it no connections) while the
    # workers bind their own listeners to it.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    port = holder.getsockname()[1]
    ready_read, ready_write = os.pipe()
    # SIGTERM before the children have their handlers would kill them with it; block it
    # until they are all forked, then forward it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            holder.close()
            sock = listener(host, port, reuse_port=True)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            try:
                run_worker(sock, lambda: os.write(ready_write, b"r"))
            except BaseException as error:  # noqa: B036 (a child must not return to main)
                print(f"aiohttp_server worker: {error!r}", file=sys.stderr, flush=True)
                os._exit(1)
            os._exit(0)
        children.append(pid)
    os.close(ready_write)
    stopping = False

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    ready = b""
    while len(ready) < workers:
        chunk = os.read(ready_read, workers)
        if not chunk:
            break  # a worker died before it was ready: its status says so below
        ready += chunk
    holder.close()
    if len(ready) == workers:
        announce(host, port)
    status = 0
    for _ in children:
        _, code = os.wait()
        if os.waitstatus_to_exitcode(code) != 0:
            status = 1
            if not stopping:  # one worker failed: stop the others
                forward(signal.SIGTERM, None)
    return status if len(ready) == workers else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1:
        return serve_forked(args.host, args.port, args.workers)
    sock = listener(args.host, args.port, reuse_port=False)
    run_worker(sock, lambda: announce(args.host, sock.getsockname()[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
