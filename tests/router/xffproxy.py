"""A small HTTP reverse proxy for the router tests, run as a process of its own.

    python xffproxy.py LISTEN_PORT TARGET_PORT

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to
127.0.0.1:TARGET_PORT, as a reverse proxy in front of a router would: it
appends the address it accepted the connection from to the request's
X-Forwarded-For header (keeping whatever the client sent there), then
relays bytes both ways (the WebSocket upgrade included) until either side
closes. Prints "ready" once it listens.
"""

from __future__ import annotations

import asyncio
import sys

MAX_HEAD = 65536


def forwarded(head: bytes, client: str) -> bytes:
    """The request head with client appended to X-Forwarded-For (the header is added if missing)."""
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines[1:], start=1):
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"x-forwarded-for":
            lines[i] = b"X-Forwarded-For: " + value.strip() + b", " + client.encode()
            return b"\r\n".join(lines)
    return b"\r\n".join([lines[0], b"X-Forwarded-For: " + client.encode(), *lines[1:]])


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(target: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    client = writer.get_extra_info("peername")[0]
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
    up_writer.write(forwarded(head[:-4], client) + b"\r\n\r\n")
    await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer))


async def main(listen: int, target: int) -> None:
    server = await asyncio.start_server(lambda r, w: serve(target, r, w), "127.0.0.1", listen, limit=MAX_HEAD)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
