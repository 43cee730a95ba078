"""WebSocket peers for tests/io/websocket_test.cpp, on Python's websockets library (Debian
python3-websockets) and, for what that library will not do wrong on purpose, raw sockets.

  ws_peer.py server MODE [--cert F --key F]   listens on 127.0.0.1:0, prints "PORT n", serves
                                              until stdin closes; prints what it saw, a line each
  ws_peer.py client URL MODE                  connects to URL, prints what it saw, a line each

Server modes (websockets): echo, close4000, ping, big, subprotocol.
Server modes (raw): rsv1 (a frame with RSV1 set), eof (a message, then the TCP connection
ends), reject (HTTP 403), badaccept (a wrong Sec-WebSocket-Accept).
Client modes: echo (text and binary round trips, then close 1000), close-by-server (waits
for the server's close frame and prints its code and reason).
"""
import asyncio
import base64
import hashlib
import ssl
import sys

import websockets

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def say(*parts):
    print(*parts, flush=True)


async def ws_handler(ws, mode):
    if mode == "echo":
        async for msg in ws:
            await ws.send(msg)
        say("closed", ws.close_code, ws.close_reason)
    elif mode == "close4000":
        await ws.close(4000, "done")
        say("closed", ws.close_code)
    elif mode == "ping":
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 10)
        await ws.send("pong ok")
        async for _ in ws:
            pass
    elif mode == "big":
        try:
            await ws.send(b"x" * 2048)
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        say("closed", ws.close_code)
    elif mode == "subprotocol":
        await ws.send("chose " + str(ws.subprotocol))
        async for _ in ws:
            pass


async def raw_handler(reader, writer, mode):
    head = await reader.readuntil(b"\r\n\r\n")
    key = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if mode == "reject":
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    if mode == "badaccept":
        accept = base64.b64encode(b"0123456789abcdef0123")
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    if mode == "rsv1":
        writer.write(b"\xc1\x02hi")  # FIN, RSV1, text "hi"
        await writer.drain()
        frame = await reader.read(2)  # the client's close frame: masked, 2-byte code + reason
        if len(frame) == 2 and frame[0] == 0x88:
            rest = await reader.readexactly(4 + (frame[1] & 0x7F))
            mask, payload = rest[:4], bytes(b ^ rest[i % 4] for i, b in enumerate(rest[4:]))
            say("close", int.from_bytes(payload[:2], "big"))
        else:
            say("no close frame", frame)
    elif mode == "eof":
        writer.write(b"\x81\x03bye")
        await writer.drain()
    writer.close()


async def serve(mode, cert, key):
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    if mode in ("rsv1", "eof", "reject", "badaccept"):
        server = await asyncio.start_server(lambda r, w: raw_handler(r, w, mode), "127.0.0.1", 0)
    else:
        kwargs = {}
        if mode == "subprotocol":
            kwargs["subprotocols"] = ["chat.v2", "chat.v1"]
        server = await websockets.serve(lambda ws, *_: ws_handler(ws, mode), "127.0.0.1", 0,
                                        ssl=ctx, max_size=None, **kwargs)
    say("PORT", server.sockets[0].getsockname()[1])
    # Serve until the test closes stdin.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


async def client(url, mode):
    async with websockets.connect(url, max_size=None) as ws:
        if mode == "echo":
            await ws.send("héllo")
            say("text", await ws.recv())
            await ws.send(b"\x00\x01\xff")
            reply = await ws.recv()
            say("binary", reply.hex())
            await ws.send(b"y" * 100000)
            say("big", len(await ws.recv()))
            await ws.close(1000, "bye")
            say("closed", ws.close_code)
        elif mode == "close-by-server":
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                say("closed", e.code, e.reason)


def main():
    if sys.argv[1] == "server":
        args = sys.argv[3:]
        cert = args[args.index("--cert") + 1] if "--cert" in args else None
        key = args[args.index("--key") + 1] if "--key" in args else None
        asyncio.run(serve(sys.argv[2], cert, key))
    else:
        asyncio.run(client(sys.argv[2], sys.argv[3]))


if __name__ == "__main__":
    main()
