"""A PostgreSQL server at a network distance, for the benchmarks: added round-trip time, writer commits counted.

    python -m bench.pgproxy HOST:PORT [--rtt-ms 3]

Listens on a free port of 127.0.0.1 (printed first, as the line ``port N``)
and forwards every connection to the server at HOST:PORT, holding each chunk
back half the round-trip time in each direction, as a server on another
machine would: chunks keep their order and throughput is not limited. It
reads the server's side of the protocol and counts writer commits: a
transaction (or a statement outside one) in which an INSERT, UPDATE or
DELETE completed and that ended without a rollback. Clients must connect
with ``sslmode=disable``: an encrypted stream cannot be read.

Commands on stdin, one a line: ``rtt MS`` sets the round-trip time from now
on; ``counts`` prints the writer commits and the statements completed (of
any kind, BEGIN and COMMIT included) so far; ``ports`` prints the local ports of
the proxy's connections to the server (its end of each, so the server
processes serving them can be found in ``pg_stat_activity.client_port``).

One thread with ``select()``: its timeout has microsecond resolution, so a
chunk is sent when due (an epoll loop rounds up to whole milliseconds, a
large error at 3 ms round trips). ``ProxyProcess`` runs it as a child
process, so that its CPU is neither the benchmark clients' nor the router's.
"""

from __future__ import annotations

import argparse
import collections
import os
import select
import socket
import sys
import time

from bench.children import LineChild

_CHUNK = 65536
_MOST_HELD = 4 << 20  # bytes held back in one direction before its source is not read for a while


class _ServerMessages:
    """Counts writer commits in the stream of one server connection's messages."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._wrote = False
        self.commits = 0
        self.statements = 0

    def feed(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        at = 0
        while len(buf) - at >= 5:
            size = int.from_bytes(buf[at + 1:at + 5], "big")  # counts itself, not the type byte
            if len(buf) - at < 1 + size:
                break
            kind = buf[at]
            if kind == 0x43:  # CommandComplete: its tag names the command
                self.statements += 1
                tag = bytes(buf[at + 5:at + 11])
                if tag.startswith((b"INSERT", b"UPDATE", b"DELETE")):
                    self._wrote = True
                elif tag.startswith(b"ROLLBA"):
                    self._wrote = False
            elif kind == 0x5A:  # ReadyForQuery: I idle, T in a transaction, E in a failed one
                status = buf[at + 5]
                if status == 0x49 and self._wrote:
                    self.commits += 1
                if status != 0x54:
                    self._wrote = False
            at += 1 + size
        del buf[:at]


class _Way:
    """One direction of a proxied connection: chunks waiting until due, then being sent."""

    def __init__(self, src: socket.socket, dst: socket.socket, messages: _ServerMessages | None) -> None:
        self.src, self.dst, self.messages = src, dst, messages
        self.waiting: collections.deque[tuple[float, bytes | None]] = collections.deque()  # None: the end
        self.held = 0
        self.sending = b""
        self.ended = False


class LatencyProxy:
    """Forwards 127.0.0.1:<port> to ``target`` with ``rtt`` seconds of round-trip time added."""

    def __init__(self, target: tuple[str, int], rtt: float = 0.0) -> None:
        self.target = target
        self.rtt = rtt
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self._ways: list[_Way] = []
        self._messages: list[_ServerMessages] = []
        self._upstream: list[socket.socket] = []

    def commits(self) -> int:
        return sum(m.commits for m in self._messages)

    def statements(self) -> int:
        return sum(m.statements for m in self._messages)

    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self._upstream if s.fileno() >= 0]

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        messages = _ServerMessages()
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small messages must not wait for acks
        self._messages.append(messages)
        self._upstream.append(server)
        self._ways += [_Way(client, server, None), _Way(server, client, messages)]

    def _read(self, way: _Way) -> None:
        try:
            data = way.src.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if way.messages is not None and data:
            way.messages.feed(data)
        way.held += len(data)
        way.waiting.append((time.monotonic() + self.rtt / 2, data or None))
        way.ended = not data

    def _send(self, way: _Way, now: float) -> None:
        while not way.sending and way.waiting and way.waiting[0][0] <= now:
            _, data = way.waiting.popleft()
            if data is None:
                self._close(way)
                return
            way.sending = data
        if way.sending:
            try:
                sent = way.dst.send(way.sending)
            except BlockingIOError:
                return
            except OSError:
                self._close(way)
                return
            way.sending = way.sending[sent:]
            way.held -= sent

    def _close(self, way: _Way) -> None:
        """The end of one direction ends the connection: both sockets close, both directions go."""
        pair = {way.src, way.dst}
        for s in pair:
            try:
                s.close()
            except OSError:
                pass
        self._ways = [w for w in self._ways if w.src not in pair]
        self._upstream = [s for s in self._upstream if s not in pair]

    def serve(self, control: int | None = None) -> None:
        """Forward until ``control`` (a file descriptor of command lines) ends; forever without one."""
        pending = b""
        while True:
            now = time.monotonic()
            for way in list(self._ways):
                self._send(way, now)
            readers: list = [self.listener, *(w.src for w in self._ways if not w.ended and w.held < _MOST_HELD)]
            if control is not None:
                readers.append(control)
            writers = [w.dst for w in self._ways if w.sending]
            dues = [w.waiting[0][0] for w in self._ways if w.waiting and not w.sending]
            timeout = max(0.0, min(dues) - time.monotonic()) if dues else None
            ready, writable, _ = select.select(readers, writers, [], timeout)
            for r in ready:
                if r is self.listener:
                    self._accept()
                elif r == control:
                    data = os.read(control, 4096)
                    if not data:
                        return
                    pending += data
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        self._command(line.decode().split())
                else:
                    for way in self._ways:
                        if way.src is r:
                            self._read(way)
                            break

    def _command(self, words: list[str]) -> None:
        if words[:1] == ["rtt"] and len(words) == 2:
            self.rtt = float(words[1]) / 1000
            print("ok", flush=True)
        elif words == ["counts"]:
            print(self.commits(), self.statements(), flush=True)
        elif words == ["ports"]:
            print(" ".join(map(str, self.ports())), flush=True)
        else:
            print(f"unknown command: {' '.join(words)}", flush=True)


class ProxyProcess(LineChild):
    """A LatencyProxy in a child process."""

    def __init__(self, host: str, port: int, rtt_ms: float = 0.0) -> None:
        super().__init__("bench.pgproxy", [f"{host}:{port}", "--rtt-ms", str(rtt_ms)], "port ")
        self.port = int(self.first.split()[1])

    def set_rtt(self, ms: float) -> None:
        self.ask(f"rtt {ms}")

    def counts(self) -> tuple[int, int]:
        """(writer commits, statements completed) so far."""
        commits, statements = self.ask("counts").split()
        return int(commits), int(statements)

    def ports(self) -> list[int]:
        return [int(p) for p in self.ask("ports").split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pgproxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="HOST:PORT of the PostgreSQL server")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round-trip time added (default 0)")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"target must be HOST:PORT, got {args.target!r}")
    proxy = LatencyProxy((host, int(port)), args.rtt_ms / 1000)
    print(f"port {proxy.port}", flush=True)
    proxy.serve(sys.stdin.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
