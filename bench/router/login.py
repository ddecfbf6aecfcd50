"""Login benchmark through real routers: logins/s, and guesses/s an attacker gets.

    python -m bench.router.login [--clients 16] [--seconds 10] [--before-src DIR]

Logins: ``--clients`` concurrent Autobahn clients, each connecting, joining
with a ticket and leaving, over and over for ``--seconds``; each figure is
the best of ``--rounds`` runs, the configurations taking turns. Against

* ``cfxstore router start`` (default node config: cookie store, session
  history and the cfxstore authenticator), with a generated ticket (fast hash)
  and with a chosen ticket (argon2id at the configured cost);
* the same node without cookie store, history and revocation component (the
  cfxstore authenticator alone, as comparable to the stock node as it gets);
* stock Crossbar with cfxstore's function authenticator instead of the
  static principal (the cost of Crossbar's function-authenticator path);
* stock ``crossbar start`` with a static ticket principal (no cookie store,
  no history), in the same run.

Guesses: wrong tickets, all from one address: first one burst of 50 at once
for one authid, then the clients' loops for ``--guess-seconds`` all for one
authid, then each for a new authid. Counted are the guesses the router
checked (denied with "invalid authid or ticket"), as opposed to those the
throttle refused unchecked. With ``--before-src`` (a source tree of an
older cfxstore) the guess figures are also measured for that code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator

from twisted.internet import defer

REALM = "realm1"
CHOSEN_TICKET = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class _Node:
    """A router process in its own process group, stopped (then killed) on exit."""

    def __init__(self, argv: list[str], cbdir: str, port: int, env: dict[str, str] | None = None) -> None:
        self.log_path = os.path.join(cbdir, "bench.log")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **(env or {})}, cwd=cbdir)
        deadline = time.monotonic() + 90
        while not _port_open(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"router did not start; log: {self.log()[-2000:]}")
            time.sleep(0.1)

    def cpu(self) -> float:
        """CPU seconds used so far by the node's processes (controller and workers)."""
        import psutil

        total = 0.0
        try:
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            pass
        return total

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def _cfx(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "cfxstore.cli.main", *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=120, cwd=tempfile.gettempdir(),
                            input=stdin)
    if result.returncode != 0:
        raise RuntimeError(f"cfxstore {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def _auth_only(cbdir: str) -> None:
    """Drop the cookie store, the realm store and the revocation component: only the authenticator stays."""
    path = os.path.join(cbdir, "config.json")
    with open(path) as f:
        config = json.load(f)
    worker = config["workers"][0]
    worker["realms"][0].pop("store", None)
    worker["components"] = []
    for transport in worker["transports"]:
        transport.pop("cookie", None)
        transport["auth"].pop("cookie", None)
    with open(path, "w") as f:
        json.dump(config, f)


def cfxstore_node(tmp: str, env: dict[str, str] | None = None, auth_only: bool = False,
                  name: str = "cfxstore", configure: Callable[[str], None] | None = None
                  ) -> tuple[_Node, int, dict[str, str]]:
    """A fresh cfxstore node; returns it, its port and tickets by authid (generated and chosen).
    ``configure(cbdir)`` may change the node's config before it starts."""
    cbdir, port = os.path.join(tmp, name), _free_port()
    _cfx(["router", "init", "--cbdir", cbdir, "--port", str(port)], env)
    if auth_only:
        _auth_only(cbdir)
    if configure is not None:
        configure(cbdir)
    tickets: dict[str, str] = {}
    out = _cfx(["router", "add-principal", "--cbdir", cbdir, "--role", "user", "generated"], env)
    tickets["generated"] = out.rsplit(":", 1)[1].strip()
    _cfx(["router", "add-principal", "--cbdir", cbdir, "--role", "user", "--choose-ticket", "chosen"], env,
         stdin=CHOSEN_TICKET + "\n")  # the CLI reads a chosen ticket from stdin, never from its arguments
    tickets["chosen"] = CHOSEN_TICKET
    node = _Node([sys.executable, "-m", "cfxstore.cli.main", "router", "start", "--cbdir", cbdir], cbdir, port, env)
    return node, port, tickets


def crossbar_node(tmp: str, ticket: str, function: bool = False,
                  store: dict[str, Any] | None = None) -> tuple[_Node, int]:
    """Stock Crossbar (its own personality) with one realm and a principal "generated" with ``ticket``.

    The principal is static, or with ``function`` comes from cfxstore's function authenticator (which
    isolates the cost of Crossbar's function-authenticator path from the rest of a cfxstore node).
    ``store`` is the realm's store config (none by default).
    """
    cbdir, port = os.path.join(tmp, "crossbar-function" if function else "crossbar"), _free_port()
    os.makedirs(cbdir)
    allow = {"call": True, "register": True, "publish": True, "subscribe": True}
    if function:
        from cfxstore.credentials.service import CredentialService
        from cfxstore.management import Management
        from cfxstore.database import open_database

        with open_database(os.path.join(cbdir, "cfxstore-db")) as db:
            credentials = CredentialService(db)
            Management(credentials.db, credentials=credentials).principals.create(
                realm=REALM, authid="generated", role="user", ticket=ticket, generated=True)
        auth = {"type": "function", "create": "cfxstore.router.auth.create_authenticator",
                "config": {"path": "cfxstore-db"}}
    else:
        auth = {"type": "static", "principals": {"generated": {"ticket": ticket, "role": "user"}}}
    config = {"version": 2, "controller": {}, "workers": [{
        "type": "router",
        "realms": [{"name": REALM, "roles": [{"name": "user", "permissions": [
            {"uri": "", "match": "prefix", "allow": allow, "disclose": {"caller": False, "publisher": False},
             "cache": True}]}]}],
        "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                        "auth": {"ticket": auth}}],
    }]}
    if store is not None:
        config["workers"][0]["realms"][0]["store"] = store
    with open(os.path.join(cbdir, "config.json"), "w") as f:
        json.dump(config, f)
    crossbar = os.path.join(os.path.dirname(sys.executable), "crossbar")
    return _Node([crossbar, "start", "--cbdir", cbdir, "--loglevel", "info"], cbdir, port), port


# --- the clients (Twisted, in this process) ---

def _attempt(port: int, authid: str | None, ticket: str | None, cookie: str | None = None,
             jar: list[str] | None = None) -> Any:
    """One connect + join + leave; fires with "ok" or the denial message.

    With ``cookie`` ("name=value") it joins by cookie alone; with ``jar`` the
    response's Set-Cookie header (if any) is appended to it.
    """
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory, WampWebSocketClientProtocol
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    done: defer.Deferred = defer.Deferred()

    class Session(ApplicationSession):
        outcome = "disconnected"

        def onConnect(self) -> None:
            self.join(REALM, authmethods=["cookie"] if cookie else ["ticket"], authid=authid)

        def onChallenge(self, challenge: Any) -> str:
            return ticket

        def onJoin(self, details: Any) -> None:
            self.outcome = "ok"
            self.leave()

        def onLeave(self, details: Any) -> None:
            if self.outcome != "ok":
                self.outcome = details.message or details.reason
            self.disconnect()

        def onDisconnect(self) -> None:
            if not done.called:
                done.callback(self.outcome)

    class Protocol(WampWebSocketClientProtocol):
        def onConnect(self, response: Any) -> Any:
            if jar is not None and response.headers.get("set-cookie"):
                jar.append(response.headers["set-cookie"].split(";", 1)[0])
            return super().onConnect(response)

    factory = WampWebSocketClientFactory(lambda: Session(ComponentConfig(REALM)), url=f"ws://127.0.0.1:{port}/",
                                         headers={"Cookie": cookie} if cookie else None)
    factory.protocol = Protocol
    d = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10).connect(factory)
    d.addErrback(lambda failure: done.called or done.callback(f"connect failed: {failure.value}"))
    return done


def run_loops(clients: int, seconds: float, attempt: Callable[[int, int], Any]) -> Any:
    """``clients`` loops of ``attempt(client, serial)`` (a Deferred outcome) for ``seconds``;
    fires with counts: ok, evaluated, throttled, other."""
    counts = {"ok": 0, "evaluated": 0, "throttled": 0, "other": 0}
    serial = iter(range(10**9))
    deadline = time.monotonic() + seconds

    @defer.inlineCallbacks
    def loop(client: int) -> Iterator[Any]:
        while time.monotonic() < deadline:
            outcome = str((yield attempt(client, next(serial))))
            counts["ok" if outcome == "ok" else "throttled" if "too many" in outcome or "busy" in outcome
                   else "evaluated" if "invalid" in outcome else "other"] += 1

    started = time.monotonic()
    d = defer.gatherResults([loop(client) for client in range(clients)])
    d.addCallback(lambda _: {**counts, "seconds": time.monotonic() - started})
    return d


def run_clients(port: int, clients: int, seconds: float, credentials: Callable[[int], tuple[str, str]]) -> Any:
    """``clients`` loops of ticket logins for ``seconds``; fires with counts as run_loops."""
    return run_loops(clients, seconds, lambda _, serial: _attempt(port, *credentials(serial)))


def _rate(counts: dict, key: str) -> float:
    return counts[key] / counts["seconds"]


@defer.inlineCallbacks
def _guesses(port: int, args: argparse.Namespace) -> Iterator[Any]:
    """Counts of: one burst of 50 parallel wrong tickets for "generated", then wrong tickets for "chosen"
    for guess_seconds, then one wrong ticket per fresh authid for guess_seconds."""
    outcomes = yield defer.gatherResults([_attempt(port, "generated", f"burst-{i}") for i in range(50)])
    burst = {"evaluated": sum("invalid" in str(o) for o in outcomes), "seconds": 1.0}
    one = yield run_clients(port, args.clients, args.guess_seconds, lambda i: ("chosen", f"guess-{i}"))
    spread = yield run_clients(port, args.clients, args.guess_seconds, lambda i: (f"probe-{i}", f"guess-{i}"))
    return burst, one, spread


def _print_guesses(label: str, burst: dict, one: dict, spread: dict) -> None:
    print(f"{label:<34}{'burst of 50':<16}{burst['evaluated']:>12} checked")
    for what, counts in (("one authid", one), ("across authids", spread)):
        print(f"{label:<34}{what:<16}{_rate(counts, 'evaluated'):>12.1f}{_rate(counts, 'throttled'):>14.1f}"
              f"{counts['other']:>8}")


@defer.inlineCallbacks
def bench(reactor: Any, args: argparse.Namespace) -> Iterator[Any]:
    tmp = tempfile.mkdtemp(prefix="cfxstore-loginbench-")
    nodes: list[_Node] = []
    try:
        print(f"# cfxstore login bench: python {platform.python_version()}, {platform.machine()}, "
              f"{os.cpu_count()} cpu(s), {args.clients} concurrent clients, {args.seconds:g} s per run, "
              f"logins best of {args.rounds}")
        node, port, tickets = cfxstore_node(tmp)
        nodes.append(node)
        stock, stock_port = crossbar_node(tmp, tickets["generated"])
        nodes.append(stock)
        bare, bare_port, bare_tickets = cfxstore_node(tmp, auth_only=True, name="cfxstore-auth-only")
        nodes.append(bare)
        stock_fn, stock_fn_port = crossbar_node(tmp, tickets["generated"], function=True)
        nodes.append(stock_fn)

        print("\n## ticket logins per second (connect + join + leave), same run")
        configs = [("crossbar, static ticket", stock, stock_port, tickets, "generated"),
                   ("crossbar, cfxstore function authenticator", stock_fn, stock_fn_port, tickets, "generated"),
                   ("cfxstore node, generated ticket", node, port, tickets, "generated"),
                   ("cfxstore auth only, generated ticket", bare, bare_port, bare_tickets, "generated"),
                   ("cfxstore node, chosen ticket (argon2id)", node, port, tickets, "chosen")]
        best: dict[str, tuple[float, float, dict]] = {}
        for _ in range(args.rounds):  # interleaved, so that a busy moment of the machine hits every config
            for label, target, p, known, authid in configs:
                cpu = target.cpu()
                counts = yield run_clients(p, args.clients, args.seconds, lambda i, a=authid, k=known: (a, k[a]))
                cpu_ms = 1000 * (target.cpu() - cpu) / max(counts["ok"], 1)
                if label not in best or _rate(counts, "ok") > best[label][0]:
                    best[label] = (_rate(counts, "ok"), cpu_ms, counts)
        print(f"{'router':<42}{'logins/s':>10}{'ratio':>8}{'router CPU/login':>18}{'refused':>9}{'failed':>8}")
        base = best["crossbar, static ticket"][0]
        for label, (rate, cpu_ms, counts) in best.items():
            print(f"{label:<42}{rate:>10.1f}{rate / base:>7.2f}x{cpu_ms:>15.2f} ms{counts['throttled']:>9}"
                  f"{counts['evaluated'] + counts['other']:>8}")
        for done in (stock, bare, stock_fn):
            done.stop()

        print(f"\n## guesses per second one attacker gets (one address, wrong tickets, {args.guess_seconds:g} s each)")
        print(f"{'code':<34}{'target':<16}{'evaluated/s':>12}{'refused/s':>14}{'other':>8}")
        _print_guesses("this tree", *(yield _guesses(port, args)))
        node.stop()
        if args.before_src:
            env = {"PYTHONPATH": os.path.abspath(args.before_src), "PYTHONDONTWRITEBYTECODE": "1"}
            old, old_port, _ = cfxstore_node(os.path.join(tmp, "before"), env)
            nodes.append(old)
            _print_guesses(f"before ({args.before_src})", *(yield _guesses(old_port, args)))
            old.stop()
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def login_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The options every login benchmark takes."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="login figures are the best of this many runs")
    return parser


def react(bench: Any, args: argparse.Namespace) -> int:
    """Run bench(reactor, args) on a Twisted reactor set up as Crossbar's clients expect."""
    import txaio
    from twisted.internet import task

    import crossbar  # noqa: F401  (Crossbar's import-time shims)

    txaio.use_twisted()
    getattr(crossbar, "_import_serializers_quietly", lambda: None)()
    task.react(bench, [args])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = login_parser("bench.router.login", __doc__)
    parser.add_argument("--guess-seconds", type=float, default=20.0,
                        help="duration of each guessing attack (default 20)")
    parser.add_argument("--before-src", default=None,
                        help="a source tree of an older cfxstore to measure guesses against as well")
    return react(bench, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
