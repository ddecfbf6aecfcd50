"""Test harness: a Twisted reactor in a background thread and a real router process.

The router is ``cfxstore router start`` in a process forked for it (tests/clichildren.py; its own process
group, killed in a finally), on ports leased free at test time (tests/ports.py). Readiness is
polled with deadlines: the port accepts connections and the log says the
worker is ready.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import clichildren
from orm.engine.hooks import ReactorGuard
from ports import free_port  # noqa: F401 (the router tests import it from here)

READY = "configured and ready"
#: Every router here runs with the guard (cfxstore/router/reactorguard.py): on PostgreSQL no site may call
#: the database on a router's reactor thread; on any database each site that does so is named in the log.
REACTOR_FORBIDDEN = ("*",)
#: The calls still let through on PostgreSQL (any frame of theirs): none.
REACTOR_ALLOWED: tuple[str, ...] = ()
START_TIMEOUT = 60.0


def reactor_guard_env() -> str:
    return ",".join(REACTOR_FORBIDDEN + tuple("!" + site for site in REACTOR_ALLOWED))


def reactor_forbidden(site: str) -> bool:
    """Whether a site the guard named (``where`` or ``where (entered at entry)``) is refused on PostgreSQL
    (the frames between are not named: a call let through by one of them counts as refused here)."""
    guard = ReactorGuard()
    guard.install(0, "cfxstore", REACTOR_FORBIDDEN, lambda named: None, REACTOR_ALLOWED)
    where, _, entry = site.partition(" (entered at ")
    return guard.forbids([where, entry.removesuffix(")") or where])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until condition() is truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def websocket_handshake(port: int, cookie: str | None = None, path: str = "",
                        tls: bool = False) -> Iterator[str | None]:
    """A raw WebSocket upgrade to the router, kept open for the block; yields the "name=value" of the
    cookie the router set, if any (tls: without checking the test's self-signed certificate)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n"
               + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        sock = plain
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(plain)
        sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            assert chunk, f"the router closed the handshake: {response!r}"
            response += chunk
        head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert head.startswith("HTTP/1.1 101"), head
        set_cookie = [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                      if line.lower().startswith("set-cookie:")]
        yield set_cookie[0].split(";", 1)[0] if set_cookie else None


def run_cli(*args: str, timeout: float = 60.0, input: str | None = None) -> subprocess.CompletedProcess:
    """A ``cfxstore`` command to its end, in a process forked with the CLI imported (tests/clichildren.py)."""
    return clichildren.run(list(args), input=input, timeout=timeout)


class ReactorThread:
    """The global Twisted reactor, running in a daemon thread for the whole test session."""

    def __init__(self) -> None:
        from twisted.internet import reactor

        self.reactor = reactor
        self.thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
        self.thread.start()
        wait_for(lambda: reactor.running, 10, "the reactor to run")

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0, **kwargs: Any) -> Any:
        """Run fn on the reactor and wait (at most timeout seconds) for its (Deferred) result."""
        from twisted.internet import defer
        from twisted.internet.threads import blockingCallFromThread

        def run() -> Any:
            d = defer.maybeDeferred(fn, *args, **kwargs)
            d.addTimeout(timeout, self.reactor)
            return d

        return blockingCallFromThread(self.reactor, run)

    def stop(self) -> None:
        self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(10)


class RouterProcess:
    """A cfxstore router node in a subprocess."""

    def __init__(self, cbdir: Path, ports: list[int], loglevel: str = "info") -> None:
        self.cbdir = cbdir
        self.ports = ports
        self.port = ports[0]  # the WebSocket transport's, for nodes made by init_node
        self.loglevel = loglevel
        self.proc: clichildren.Child | None = None
        self.starts = 0
        self.log_path = cbdir / "router.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self.starts += 1
        offset = len(self.log())
        # The node's controller is forked with the CLI and Crossbar's package imported (tests/clichildren.py):
        # it spends a second less CPU on each start; its worker is Crossbar's own fresh process.
        self.proc = clichildren.start_node(["router", "start", "--cbdir", str(self.cbdir), "--loglevel", self.loglevel],
                                           str(self.log_path), env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                                    "CFXSTORE_REACTOR_GUARD": reactor_guard_env()})

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"router exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            return READY in self.log()[offset:] and all(port_open(p) for p in self.ports)

        wait_for(ready, START_TIMEOUT, "the router to listen", interval=0.1)

    def stop(self) -> int:
        """Clean shutdown (SIGINT to the controller, which stops its workers); kills after a deadline."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else 0
        os.kill(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("router did not stop within 30s")
        finally:
            wait_for(lambda: not any(port_open(p) for p in self.ports), 15, "the router ports to close")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin_ticket(self) -> str:
        # The first start shows the ticket once the node listens: shortly after ready().
        pattern = r"ticket is shown only this once: (\S+)"
        wait_for(lambda: re.search(pattern, self.log()), 15, "the first start to show the admin ticket",
                 interval=0.1)
        return re.search(pattern, self.log()).group(1)


@contextlib.contextmanager
def running(node: RouterProcess) -> Iterator[RouterProcess]:
    """The node started; stopped cleanly afterwards, and killed if that fails."""
    try:
        node.start()
        yield node
    finally:
        try:
            node.stop()
        finally:
            node.kill()


def edit_config(cbdir: Path, edit: Callable[[dict], None]) -> None:
    path = cbdir / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config, indent=2))


def init_node(cbdir: Path, *edits: Callable[[dict], None]) -> RouterProcess:
    """A node made by ``router init`` on a free port, its config changed by each edit in turn; not started."""
    port = free_port()
    result = run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port))
    assert result.returncode == 0, result.stderr
    for edit in edits:
        edit_config(cbdir, edit)
    return RouterProcess(cbdir, [port])


def throttled(throttle: dict, methods: tuple[str, ...] = ("ticket", "wampcra")) -> Callable[[dict], None]:
    """A config edit that gives these authentication methods of the node's transport this throttle."""
    def edit(config: dict) -> None:
        auth = config["workers"][0]["transports"][0]["auth"]
        for method in methods:
            auth[method]["config"]["throttle"] = throttle
    return edit


def buffered(ms: int) -> Callable[[dict], None]:
    """A config edit that makes the node commit staged cookie and history writes every ``ms`` milliseconds."""
    def edit(config: dict) -> None:
        worker = config["workers"][0]
        worker["transports"][0]["cookie"]["store"]["flush_ms"] = ms
        worker["realms"][0]["store"]["buffer-flush"] = ms
    return edit
