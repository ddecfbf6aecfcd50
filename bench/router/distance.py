"""Cookie logins on a router node whose PostgreSQL server is at a network distance, against an LMDB node.

    python -m bench.router.distance [--n 300] [--clients 16] [--rtts 0,3,7] [--rounds 3] [--postgres URL]

Two real ``cfxstore router start`` nodes with the default node config
(cookie store, session history, cfxstore authenticator), run one at a
time: one on LMDB, one with every store on the PostgreSQL schema
``bench_distance`` (created and dropped by the benchmark; URL defaults to
CFXSTORE_TEST_PG or postgresql://postgres@127.0.0.1:5432/test) reached
through a latency proxy (bench/pgproxy.py, a process of its own) adding
each of ``--rtts`` milliseconds of round-trip time. Each node's database
holds ``--n`` logged-in cookies, written there before it starts.

For each configuration, in each round (the configurations taking turns),
the node is restarted, so its cookie cache is empty, and a bystander
(bench/router/bystander.py, a process of its own) logs in with a ticket and
calls a procedure it registered, in a loop. Then ``--clients`` concurrent
Autobahn clients log in with every cookie once (connect, join by cookie,
leave): "cold", each the node's first sight of the cookie; and then with
every cookie again: "warm". Per phase:

* logins/s: the n logins over the time they took;
* bystander p99: of the round trips of its calls during the logins;
* writes after: how long the node went on committing what the phase's
  logins staged (session history) after the last login; everything below
  counts that time and its work too;
* writer commits/s: write transactions committed, read from the
  database's own transaction id on LMDB and counted by the proxy from the
  server's answers on PostgreSQL;
* router CPU per login: of the node's processes (controller and worker);
* PostgreSQL CPU per login: of the local server processes serving the
  node's connections (found by the proxy's ports in pg_stat_activity);
* PostgreSQL statements per login (BEGIN and COMMIT included), counted by
  the proxy;
* proxy CPU per login, for the record: counted in neither.

Besides, in each round: the PostgreSQL CPU and the time of the node's cold
read alone, the one statement it sends for a cookie it has not seen, sent
for every cookie from this process (no node, no proxy).

Every figure is the best of ``--rounds`` (highest rate, lowest time), each
figure on its own; ratios are to the LMDB node's best in the same run. Last,
from the measured rates and the PostgreSQL CPU per login: how many such
nodes one PostgreSQL core carries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Iterator

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict
from twisted.internet import defer, threads

from bench.children import LineChild
from bench.orm_postgres import default_url, drop_schema, in_schema, server_url
from bench.pgproxy import ProxyProcess
from bench.router.cluster import node_dir
from bench.router.login import REALM, _attempt, _cfx, _free_port, _Node, react
from orm.engine.lmdbfile import _meta

SCHEMA = "bench_distance"
COOKIE_AUTHID = "cookie-user"
BYSTANDER = "bystander"
PHASES = ("cold", "warm")
ATTEMPT_TIMEOUT = 30.0
#: PostgreSQL server CPU per cold cookie login, cold logins/s at 3 ms vs LMDB, bystander p99 at 7 ms vs LMDB.
TARGETS = {"pg_cpu_cold_ms": 0.3, "cold_rate_ratio_3ms": 0.8, "p99_ratio_7ms": 2.0}


def _rtts(value: str) -> list[float]:
    try:
        rtts = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        rtts = []
    if not rtts or any(r < 0 for r in rtts):
        raise argparse.ArgumentTypeError(f"not round-trip times in ms >= 0, separated by commas: {value!r}")
    return rtts


def seed(path: str, n: int) -> tuple[list[str], str]:
    """Principals and n logged-in cookies in the database at path; returns the cookies' Cookie headers
    and the bystander's ticket."""
    from cfxstore.cookies.service import CookieService
    from cfxstore.credentials.service import CredentialService
    from cfxstore.database import open_database
    from cfxstore.management import Management

    ticket = secrets.token_urlsafe(24)
    headers: list[str] = []
    with open_database(path) as db:
        credentials = CredentialService(db)
        principals = Management(credentials.db, credentials=credentials).principals
        principals.create(realm=REALM, authid=COOKIE_AUTHID, role="user", ticket=secrets.token_urlsafe(24),
                          generated=True)
        principals.create(realm=REALM, authid=BYSTANDER, role="user", ticket=ticket, generated=True)
        cookies = CookieService(db)
        for start in range(0, n, 500):
            batch = []
            for _ in range(min(500, n - start)):
                value, cookie = cookies.new(max_age=7 * 86400)
                batch.append(cookies.login(cookie, authid=COOKIE_AUTHID, authrole="user", authmethod="ticket",
                                           authextra=None, authrealm=REALM))
                headers.append(f"cbtid={value}")
            cookies.transact(lambda txn, b=batch: cookies.put(txn, b))
    return headers, ticket


def lmdb_txnid(path: str) -> int:
    """The id of the last committed write transaction of the LMDB database in directory path."""
    with open(os.path.join(path, "data.mdb"), "rb") as f:
        first = _meta(f.read(152))
        if first is None:
            raise RuntimeError(f"{path}: not an LMDB data file")
        f.seek(first[0])
        second = _meta(f.read(152))
    return max(first[2], second[2] if second else 0)


def read_cost(url: str, cookies: list[str], watch: Any) -> tuple[float, float]:
    """(PostgreSQL CPU ms, ms of wall time) per cookie read made as a node makes a cold one (one statement,
    no BEGIN, cfxstore/router/cookiebackend.py), for every cookie once, from this process alone."""
    from cfxstore.cookies.service import CookieService
    from cfxstore.database import open_database

    hashes = [CookieService.hash_value(c.split("=", 1)[1]) for c in cookies]
    with open_database(url) as db:
        table = CookieService(db).schema.cookies

        def read(value_hash: bytes) -> Any:
            with db.begin(single=True) as txn:
                return table.get_by_index(txn, "idx_cookies_by_value", value_hash)

        read(hashes[0])
        rows = watch.execute("SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
                             (f"%:{SCHEMA}:{os.getpid()}@%",)).fetchall()
        before = {pid: _cpu(pid) for (pid,) in rows}
        started = time.perf_counter()
        if any(read(h) is None for h in hashes):
            raise RuntimeError("a seeded cookie was not found")
        seconds = time.perf_counter() - started
        server = sum(_cpu(pid) - cpu for pid, cpu in before.items())
    return 1000 * server / len(hashes), 1000 * seconds / len(hashes)


def _cpu(pid: int) -> float:
    """CPU seconds so far of a single-threaded process (a PostgreSQL backend, the proxy).

    The scheduler's nanosecond count: the tick counts ps and psutil read are 10 ms steps, as much
    as a backend spends on a hundred cookie reads.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        try:
            times = psutil.Process(pid).cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0


class Setup:
    """One node under test and how to read what it costs."""

    def __init__(self, label: str, node_argv: list[str], cbdir: str, port: int, cookies: list[str], ticket: str,
                 txnid_path: str | None = None, proxy: ProxyProcess | None = None, rtt: float = 0.0,
                 watch: Any = None) -> None:
        self.label, self.argv, self.cbdir, self.port = label, node_argv, cbdir, port
        self.cookies, self.ticket = cookies, ticket
        self.txnid_path, self.proxy, self.rtt, self.watch = txnid_path, proxy, rtt, watch
        self.node: _Node | None = None

    def start(self) -> None:
        if self.proxy is not None:
            self.proxy.set_rtt(self.rtt)
        self.node = _Node(self.argv, self.cbdir, self.port)

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    def counts(self) -> tuple[int, int | None]:
        """(writer commits, statements sent to PostgreSQL or None) so far."""
        return self.proxy.counts() if self.proxy is not None else (lmdb_txnid(self.txnid_path), None)

    def server_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL server process serving the node (through the proxy), by pid."""
        if self.proxy is None:
            return {}
        ports = self.proxy.ports()
        rows = self.watch.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)).fetchall()
        return {pid: _cpu(pid) for (pid,) in rows}

    def settle(self, most: float = 300.0) -> float:
        """Wait until the node has committed what it staged; returns the seconds waited.

        Still means: on LMDB no write transaction for 0.5 s; on PostgreSQL at most the health probe's two
        statements in 1 s (a batch of a backlog is many statements and one commit, so commits can pause).
        """
        started = time.monotonic()
        window, allowed = (0.5, 0) if self.proxy is None else (1.0, 2)
        index = 0 if self.proxy is None else 1
        last = self.counts()[index]
        while time.monotonic() - started < most:
            time.sleep(window)
            now = self.counts()[index]
            if now - last <= allowed:
                break
            last = now
        return time.monotonic() - started - window

    def snapshot(self) -> dict[str, Any]:
        return {"router": self.node.cpu(), "server": self.server_cpu(), "counts": self.counts(),
                "proxy": _cpu(self.proxy.proc.pid) if self.proxy is not None else 0.0}


class Bystander(LineChild):
    """bench/router/bystander.py as a child process."""

    def __init__(self, port: int, ticket: str, pause_ms: float) -> None:
        super().__init__("bench.router.bystander", [str(port), BYSTANDER, ticket, "--pause-ms", str(pause_ms)],
                         "ready")

    def report(self) -> dict[str, float]:
        return json.loads(self.ask("report"))


@defer.inlineCallbacks
def use_all(port: int, cookies: list[str], clients: int) -> Iterator[Any]:
    """Log in with every cookie once, ``clients`` at a time; fires with (ok, outcomes that were not ok, seconds)."""
    from twisted.internet import reactor

    failed: list[str] = []
    ok = 0

    @defer.inlineCallbacks
    def client(share: list[str]) -> Iterator[Any]:
        nonlocal ok
        for cookie in share:
            attempt = _attempt(port, None, None, cookie=cookie)
            attempt.addTimeout(ATTEMPT_TIMEOUT, reactor)  # a connection lost mid-handshake answers nothing
            try:
                outcome = str((yield attempt))
            except defer.TimeoutError:
                outcome = "no answer"
            if outcome == "ok":
                ok += 1
            else:
                failed.append(outcome)

    started = time.monotonic()
    yield defer.gatherResults([client(cookies[c::clients]) for c in range(clients)])
    return ok, failed, time.monotonic() - started


@defer.inlineCallbacks
def measure(setup: Setup, args: argparse.Namespace) -> Iterator[Any]:
    """Restart the node, then the cold and the warm phase; fires with figures per phase."""
    setup.stop()
    setup.start()
    bystander = Bystander(setup.port, setup.ticket, args.pause_ms)
    figures = {}
    try:
        for phase in PHASES:
            bystander.command("reset")
            before = setup.snapshot()
            ok, failed, seconds = yield use_all(setup.port, setup.cookies, args.clients)
            calls = bystander.report()
            # The phase's writes, committed after its logins as well, are part of its cost.
            settle = yield threads.deferToThread(setup.settle)
            if setup.node.proc.poll() is not None:
                raise RuntimeError(f"{setup.label}: the node ended; log: {setup.node.log()[-2000:]}")
            after = setup.snapshot()
            logins = max(ok, 1)
            server = sum(t - before["server"].get(pid, 0.0) for pid, t in after["server"].items())
            figures[phase] = {
                "rate": ok / seconds, "p99": calls["p99"], "calls": calls["calls"], "failed": len(failed),
                "failures": sorted(set(failed))[:3],
                "commits": (after["counts"][0] - before["counts"][0]) / (seconds + settle), "settle": settle,
                "statements": (after["counts"][1] - before["counts"][1]) / logins if setup.proxy is not None else None,
                "router_ms": 1000 * (after["router"] - before["router"]) / logins,
                "pg_ms": 1000 * server / logins if setup.proxy is not None else None,
                "proxy_ms": 1000 * (after["proxy"] - before["proxy"]) / logins if setup.proxy is not None else None,
                "new_connections": len(set(after["server"]) - set(before["server"])),
            }
    finally:
        bystander.close()
        setup.stop()
    return figures


def best_of(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each figure's best over the runs: the highest rate and commits/s, the lowest times and CPU."""
    best: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        rows = [run[phase] for run in runs]
        best[phase] = {"rate": max(r["rate"] for r in rows), "commits": max(r["commits"] for r in rows),
                       "failed": sum(r["failed"] for r in rows),
                       "failures": sorted({f for r in rows for f in r["failures"]})[:3]}
        for key in ("p99", "router_ms", "pg_ms", "proxy_ms", "statements", "settle"):
            values = [r[key] for r in rows if r[key] is not None]
            best[phase][key] = min(values) if values else None
    return best


def measured_rtt(url: str) -> float:
    """Median ms of a `SELECT 1` round trip to url (through the proxy: what the node sees)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        times = []
        for _ in range(30):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(best: dict[str, dict[str, dict[str, Any]]], rtts: dict[str, float]) -> None:
    lmdb = best["lmdb"]
    for phase in PHASES:
        print(f"\n## {phase} cookie logins (connect + join by cookie + leave; {phase} = "
              f"{'first use after a node restart' if phase == 'cold' else 'each cookie again'})")
        print(f"{'node':<14}{'rtt ms':>8}{'logins/s':>10}{'x lmdb':>8}{'bystander p99':>15}{'x lmdb':>8}"
              f"{'commits/s':>11}{'router CPU':>12}{'x lmdb':>8}{'PG CPU':>9}{'PG stmts':>10}{'proxy CPU':>11}"
              f"{'writes after':>14}{'failed':>8}")
        base = lmdb[phase]
        for label, figures in best.items():
            f = figures[phase]
            print(f"{label:<14}{rtts.get(label, 0.0):>8.2f}{f['rate']:>10.1f}{f['rate'] / base['rate']:>7.2f}x"
                  f"{f['p99']:>12.2f} ms{f['p99'] / base['p99']:>7.2f}x{f['commits']:>11.1f}"
                  f"{f['router_ms']:>9.2f} ms{f['router_ms'] / base['router_ms']:>7.2f}x{_ms(f['pg_ms']):>6} ms"
                  f"{_ms(f['statements']):>10}{_ms(f['proxy_ms']):>8} ms{f['settle']:>12.1f} s{f['failed']:>8}")
            if f["failures"]:
                print(f"{'':<14}failures: {f['failures']}")

    print("\n## how many such nodes one PostgreSQL core carries (1000 ms of server CPU per second)")
    print(f"{'node':<14}{'phase':<6}{'logins/s':>10}{'PG CPU/login':>14}{'nodes, at that rate':>21}"
          f"{'nodes, core for core':>22}")
    for label, figures in best.items():
        if label == "lmdb":
            continue
        for phase in PHASES:
            f = figures[phase]
            if not f["pg_ms"]:
                continue
            at_rate = 1000 / (f["rate"] * f["pg_ms"])
            core_for_core = f["router_ms"] / f["pg_ms"]  # each node's router busy on one core of its own
            print(f"{label:<14}{phase:<6}{f['rate']:>10.1f}{f['pg_ms']:>11.2f} ms{at_rate:>21.1f}{core_for_core:>22.1f}")

    print("\n## targets")
    pg = [(label, figures) for label, figures in best.items() if label != "lmdb"]
    for label, figures in pg:
        cpu = figures["cold"]["pg_ms"]
        print(f"PostgreSQL CPU per cold cookie login <= {TARGETS['pg_cpu_cold_ms']} ms, {label}: {_ms(cpu)} ms "
              f"({'met' if cpu is not None and cpu <= TARGETS['pg_cpu_cold_ms'] else 'not met'})")
    for label, figures in pg:
        if label.endswith(" 3ms"):
            ratio = figures["cold"]["rate"] / lmdb["cold"]["rate"]
            print(f"cold logins/s at 3 ms >= {TARGETS['cold_rate_ratio_3ms']}x LMDB's: {ratio:.2f}x "
                  f"({'met' if ratio >= TARGETS['cold_rate_ratio_3ms'] else 'not met'})")
        if label.endswith(" 7ms"):
            for phase in PHASES:
                ratio = figures[phase]["p99"] / lmdb[phase]["p99"]
                print(f"bystander p99 at 7 ms <= {TARGETS['p99_ratio_7ms']}x LMDB's, {phase}: {ratio:.2f}x "
                      f"({'met' if ratio <= TARGETS['p99_ratio_7ms'] else 'not met'})")


@defer.inlineCallbacks
def bench(reactor: Any, args: argparse.Namespace) -> Iterator[Any]:
    base = args.postgres
    target = conninfo_to_dict(base)
    host, pg_port = target.get("host") or "127.0.0.1", int(target.get("port") or 5432)
    tmp = tempfile.mkdtemp(prefix="cfxstore-distancebench-")
    drop_schema(base, SCHEMA)
    proxy = ProxyProcess(host, pg_port)
    setups: list[Setup] = []
    try:
        print(f"# cfxstore distance bench: python {platform.python_version()}, {platform.machine()}, "
              f"{os.cpu_count()} cpu(s) shared by the node, PostgreSQL, the proxy and the clients, "
              f"{args.clients} concurrent clients, {args.n} cookies, best of {args.rounds}")
        lmdb_dir, lmdb_port = os.path.join(tmp, "lmdb"), _free_port()
        _cfx(["router", "init", "--cbdir", lmdb_dir, "--port", str(lmdb_port)])
        db_dir = os.path.join(lmdb_dir, "cfxstore-db")
        cookies, ticket = seed(db_dir, args.n)
        start = [sys.executable, "-m", "cfxstore.cli.main", "router", "start", "--cbdir"]
        setups.append(Setup("lmdb", start + [lmdb_dir], lmdb_dir, lmdb_port, cookies, ticket, txnid_path=db_dir))

        direct = in_schema(base, SCHEMA)
        cookies, ticket = seed(direct, args.n)
        via = _param(_via_proxy(base, proxy.port), "sslmode=disable")  # the proxy reads the server's answers
        pg_dir, node_port = node_dir(tmp, "pg", in_schema(via, SCHEMA))
        watch = psycopg.connect(base, autocommit=True)
        rtts: dict[str, float] = {}
        for rtt in args.rtts:
            label = f"postgres {rtt:g}ms"
            setups.append(Setup(label, start + [pg_dir], pg_dir, node_port, cookies, ticket, proxy=proxy, rtt=rtt,
                                watch=watch))
            proxy.set_rtt(rtt)
            rtts[label] = yield threads.deferToThread(measured_rtt, via)
        print("round trips measured through the proxy (SELECT 1, median): "
              + ", ".join(f"{label}: {ms:.2f} ms" for label, ms in rtts.items()))

        runs: dict[str, list[dict]] = {s.label: [] for s in setups}
        reads: list[tuple[float, float]] = []
        for round_no in range(args.rounds):  # taking turns, so that a busy moment of the machine hits every one
            reads.append(read_cost(direct, cookies, watch))
            for setup in setups:
                figures = yield measure(setup, args)
                runs[setup.label].append(figures)
                print(f"round {round_no + 1} {setup.label}: {json.dumps(figures)}", flush=True)
        report({label: best_of(r) for label, r in runs.items()}, rtts)
        print(f"\nthe cold cookie read alone (the node's statement, sent from this process with no node running, "
              f"no proxy): PostgreSQL CPU {min(r[0] for r in reads):.3f} ms per read, "
              f"{min(r[1] for r in reads):.3f} ms per read one after another")
        watch.close()
    finally:
        for setup in setups:
            setup.stop()
        proxy.close()
        shutil.rmtree(tmp, ignore_errors=True)
        drop_schema(base, SCHEMA)


def _via_proxy(url: str, port: int) -> str:
    """url with the proxy at 127.0.0.1:port in place of the server (user, database and parameters kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def _param(url: str, param: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{param}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.router.distance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="figures are the best of this many rounds")
    parser.add_argument("--n", type=int, default=300, help="cookies, each used once per phase (default 300)")
    parser.add_argument("--rtts", type=_rtts, default=[0.0, 3.0, 7.0],
                        help="round-trip times in ms the proxy adds, separated by commas (default 0,3,7)")
    parser.add_argument("--pause-ms", type=float, default=5.0,
                        help="the bystander's pause between an answer and its next call (default 5)")
    parser.add_argument("--postgres", type=server_url, default=default_url(), metavar="URL",
                        help="the PostgreSQL server (a schema bench_distance is created and dropped)")
    args = parser.parse_args(argv)
    if args.n < args.clients:
        parser.error("--n must be at least --clients")
    return react(bench, args)


if __name__ == "__main__":
    sys.exit(main())
