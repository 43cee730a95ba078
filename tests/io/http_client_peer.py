"""The peers of tests/io/http_client_test.cpp: an aiohttp server and a raw asyncio server
that closes each connection after one response without saying so (a keep-alive connection
gone stale). Prints "listening AIOHTTP_PORT RAW_PORT" once both accept; stops on SIGTERM or
when stdin ends."""

import asyncio
import sys

from aiohttp import web

stats = {"in_flight": 0, "max_in_flight": 0, "raw_connections": 0}


async def hello(request):
    return web.Response(text="hello from aiohttp")


async def chunked(request):
    # Streamed with chunked encoding: no Content-Length is known up front.
    n = int(request.query.get("n", "5"))
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for i in range(n):
        await resp.write(f"chunk {i};".encode())
        await asyncio.sleep(0)
    await resp.write_eof()
    return resp


async def big(request):
    n = int(request.query.get("n", "100000"))
    return web.Response(body=bytes((i % 251 for i in range(n))))


async def many_headers(request):
    return web.Response(text="many", headers={f"X-H-{i}": f"value {i}" for i in range(40)})


async def slow(request):
    await asyncio.sleep(float(request.query.get("s", "30")))
    return web.Response(text="late")


async def slow_body(request):
    resp = web.StreamResponse()
    resp.content_length = 10
    await resp.prepare(request)
    await resp.write(b"12345")
    await asyncio.sleep(30)
    await resp.write(b"67890")
    return resp


async def echo(request):
    body = await request.read()
    te = request.headers.get("Transfer-Encoding", "")
    cl = request.headers.get("Content-Length", "")
    return web.Response(
        text=f"{request.method} te={te} cl={cl} x={request.headers.get('X-Test', '')} body={body.decode()}")


async def redirect(request):
    n = int(request.match_info["n"])
    code = int(request.query.get("code", "302"))
    target = "/echo" if n == 0 else f"/redirect/{n - 1}?code={code}"
    raise {301: web.HTTPMovedPermanently, 302: web.HTTPFound, 303: web.HTTPSeeOther,
           307: web.HTTPTemporaryRedirect, 308: web.HTTPPermanentRedirect}[code](target)


async def loop(request):
    raise web.HTTPFound("/loop")


async def concurrent(request):
    stats["in_flight"] += 1
    stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
    try:
        await asyncio.sleep(0.05)
    finally:
        stats["in_flight"] -= 1
    return web.Response(text="ok")


async def get_stats(request):
    text = f"max_in_flight={stats['max_in_flight']} raw_connections={stats['raw_connections']}"
    if "reset" in request.query:
        stats["max_in_flight"] = 0
    return web.Response(text=text)


async def raw_client(reader, writer):
    """By the request's path:
    "/keep"    keeps the connection and answers every request, each response in one write
               (so the client reads a response's head and body together);
    "/close"   says "Connection: close" but keeps the connection open;
    "/http10"  answers HTTP/1.0 without keep-alive but keeps the connection open;
    "/silent"  never answers (nor does it speak TLS);
    "/eof"     answers with a body that ends when the connection does (no length, no chunks);
    "/garbage" answers with a malformed status line;
    otherwise  answers one request and closes, although the response says keep-alive."""
    stats["raw_connections"] += 1
    n = stats["raw_connections"]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/silent":
                await reader.read()
                break
            if path in (b"/eof", b"/garbage"):
                writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end, connection " + str(n).encode()
                             if path == b"/eof" else b"HTTP/1.1 2x0 Nope\r\n\r\n")
                await writer.drain()
                break
            body = f"raw connection {n}".encode()
            status, connection = b"HTTP/1.1 200 OK", b"keep-alive"
            if path == b"/close":
                connection = b"close"
            elif path == b"/http10":
                status, connection = b"HTTP/1.0 200 OK", b"x-none"
            writer.write(status + b"\r\nConnection: " + connection + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            if path not in (b"/keep", b"/close", b"/http10"):
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        # "/silent" over TLS: a ClientHello holds no CRLF CRLF; wait for the client to go.
        await reader.read()
    writer.close()


async def main():
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/big", big)
    app.router.add_get("/many-headers", many_headers)
    app.router.add_get("/slow", slow)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/redirect/{n}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/concurrent", concurrent)
    app.router.add_get("/stats", get_stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    raw = await asyncio.start_server(raw_client, "127.0.0.1", 0)
    raw_port = raw.sockets[0].getsockname()[1]
    print(f"listening {port} {raw_port}", flush=True)
    loop_ = asyncio.get_running_loop()
    done = loop_.create_future()
    loop_.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    await done
    await runner.cleanup()


asyncio.run(main())
