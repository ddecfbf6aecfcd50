"""A TCP proxy between a router node and PostgreSQL that a test can cut and restore.

The node's database URL points at the proxy. ``cut()`` closes every proxied
connection (both ends see the connection drop, as when a server or a network
path fails) and, until ``restore()``, closes each new connection at once:
the node loses its database without the shared PostgreSQL server stopping.
``stall()`` keeps every connection open but forwards nothing until
``restore()`` (as when a network path drops packets): no error comes, answers
just do not. ``blackhole()`` goes further: what is sent is dropped (nothing is
kept to deliver later) and a new connection is accepted but never reaches the
server, until ``restore()`` closes it. ``latency`` (seconds of round-trip time, settable at any
moment) holds every forwarded chunk back half of it in each direction, as a
database on another machine would: chunks keep their order and the
connection's throughput is not limited by it.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit


class PgProxy:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server of a URL, on threads of its own."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._url = parts
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._open = True
        self._flowing = threading.Event()
        self._flowing.set()
        self._dropping = False
        self._unanswered: list[socket.socket] = []  # connections accepted while black-holed
        self._closed = False
        self.accepted = 0  # connections forwarded (not counting those refused while cut)
        self.turns = 0  # client chunks sent after an answer (or first) on their connection: round trips
        self.statements = 0  # statements the clients ran: simple queries and extended-protocol executes
        self.latency = 0.0  # round-trip time added, in seconds
        self.held: list[bytes] = []  # every chunk held back by stall()
        threading.Thread(target=self._accept, name="pgproxy", daemon=True).start()

    def url(self) -> str:
        """The URL with the proxy in place of the server."""
        netloc = self._url.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        netloc = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
        return urlunsplit(self._url._replace(netloc=netloc))

    def cut(self) -> None:
        """Drop every proxied connection and refuse new ones until restore()."""
        with self._lock:
            self._open = False
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            _close(s)

    def stall(self) -> None:
        """Forward nothing, on any connection, until restore() (what was held back is sent then)."""
        self._flowing.clear()

    def blackhole(self) -> None:
        """Drop everything sent, on any connection, and answer no new one, until restore()."""
        self._dropping = True
        self._flowing.clear()

    def restore(self) -> None:
        with self._lock:
            self._open = True
            self._dropping = False
            unanswered, self._unanswered = self._unanswered, []
        for s in unanswered:
            _close(s)
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                forward = self._open
                if self._dropping:
                    self._unanswered.append(client)  # open, silent: as a path that drops packets
                    continue
            if not forward:
                _close(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                if not self._open:  # cut while connecting
                    _close(client)
                    _close(server)
                    continue
                self._sockets.update((client, server))
                self.accepted += 1
            last = [server]  # which end spoke last on this connection
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst, src is client, last), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, asks: bool = False, last: list | None = None) -> None:
        later: queue.SimpleQueue = queue.SimpleQueue()  # (when due, chunk) of this direction; None ends it
        messages = _Messages() if asks else None
        threading.Thread(target=self._deliver, args=(later, src, dst), daemon=True).start()
        try:
            while data := src.recv(65536):
                if last is not None and last[0] is not src:
                    last[0] = src
                    if asks:
                        self.turns += 1
                if messages is not None:
                    self.statements += messages.statements(data)
                if self._dropping:
                    continue
                if not self._flowing.is_set():
                    self.held.append(data)
                while not self._flowing.wait(0.5):
                    if self._closed:
                        raise OSError("proxy closed")
                if self._dropping:
                    continue  # black-holed while it waited
                later.put((time.monotonic() + self.latency / 2, data))
        except OSError:
            pass
        later.put(None)

    def _deliver(self, later: queue.SimpleQueue, src: socket.socket, dst: socket.socket) -> None:
        """Send each chunk when it is due, in order; when src has ended, close both ends."""
        try:
            while (item := later.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._sockets.difference_update((src, dst))
        _close(src)
        _close(dst)


class _Messages:
    """Reads a client's side of the PostgreSQL protocol to count the statements it runs."""

    _UNTYPED = (80877103, 80877104, 196608)  # SSL and GSS encryption requests, the startup message

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False

    def statements(self, data: bytes) -> int:
        """How many statements (a simple Query, or an Execute) the complete messages in data add."""
        self._buffer += data
        n, buf = 0, self._buffer
        while True:
            if not self._started:
                if len(buf) < 8:
                    break
                size, code = int.from_bytes(buf[:4], "big"), int.from_bytes(buf[4:8], "big")
                if len(buf) < size:
                    break
                self._started = code == 196608
                buf = buf[size:]
                continue
            if len(buf) < 5:
                break
            size = int.from_bytes(buf[1:5], "big")
            if len(buf) < size + 1:
                break
            n += buf[:1] in (b"Q", b"E")
            buf = buf[size + 1:]
        self._buffer = buf
        return n


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
