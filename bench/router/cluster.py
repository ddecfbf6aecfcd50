"""Cookie logins per second: one router node vs two nodes on one PostgreSQL database.

    python -m bench.router.cluster [--clients 16] [--seconds 5] [--rounds 3] [--postgres URL]

Two real ``cfxstore router start`` nodes (default node config: cookie store,
session history, cfxstore authenticator), both pointed at the same
PostgreSQL schema ``bench_cluster`` (created and dropped by the benchmark;
URL defaults to CFXSTORE_TEST_PG or postgresql://postgres@127.0.0.1:5432/test).
Every client first logs in once with a ticket and keeps the cookie it is
given; then ``--clients`` concurrent Autobahn clients log in with their
cookies (connect, join by cookie, leave) over and over for ``--seconds``:

* one node: every login goes to node A (node B stays up, idle);
* two nodes: logins alternate between A and B, so every cookie is used on
  both nodes.

Each figure is the best of ``--rounds`` runs, the two configurations taking
turns. The clients run in this process on the same machine as the nodes.
CPU per login is given for the nodes' processes, for the PostgreSQL server
processes serving their connections (when the server is local) and for the
clients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import sys
import tempfile
import time
from typing import Any, Iterator

from psycopg.conninfo import conninfo_to_dict
from twisted.internet import defer

from bench.orm_postgres import default_url, drop_schema, in_schema, server_url

from bench.router.login import REALM, _attempt, _cfx, _free_port, _Node, login_parser, react, run_loops

SCHEMA = "bench_cluster"
AUTHID = "cookie-user"


def _on_postgres(config: Any, url: str) -> None:
    """Point every store of a node config at ``url`` (as docs/clusters.md says: the same URL on every node)."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key == "path" and value == "cfxstore-db":
                config[key] = url
            else:
                _on_postgres(value, url)
    elif isinstance(config, list):
        for item in config:
            _on_postgres(item, url)


def node_dir(tmp: str, name: str, url: str) -> tuple[str, int]:
    """A fresh node directory in tmp whose stores all live at ``url``; returns it and the node's port."""
    cbdir, port = os.path.join(tmp, name), _free_port()
    _cfx(["router", "init", "--cbdir", cbdir, "--port", str(port)])
    path = os.path.join(cbdir, "config.json")
    with open(path) as f:
        config = json.load(f)
    _on_postgres(config, url)
    with open(path, "w") as f:
        json.dump(config, f)
    return cbdir, port


def cluster_node(tmp: str, name: str, url: str) -> tuple[_Node, int]:
    """A fresh node whose stores all live at ``url``; returns it and its port."""
    cbdir, port = node_dir(tmp, name, url)
    return _Node([sys.executable, "-m", "cfxstore.cli.main", "router", "start", "--cbdir", cbdir], cbdir, port), port


@defer.inlineCallbacks
def _cookies(ports: list[int], clients: int, ticket: str) -> Iterator[Any]:
    """One cookie per client, each got by a ticket login and then accepted by every node."""
    jar: list[str] = []
    outcomes = yield defer.gatherResults([_attempt(ports[c % len(ports)], AUTHID, ticket, jar=jar)
                                          for c in range(clients)])
    if outcomes.count("ok") != clients or len(jar) != clients:
        raise RuntimeError(f"ticket logins to get the cookies failed: {sorted(set(outcomes))}")
    deadline = time.monotonic() + 30
    for cookie in jar:  # the login that made it is written behind: wait until each node finds it
        for port in ports:
            while (yield _attempt(port, None, None, cookie=cookie)) != "ok":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node on port {port} did not accept a cookie within 30 s")
    return jar


def _server_cpu(nodes: list[_Node], pg_port: int) -> dict[int, float]:
    """CPU seconds so far of each local PostgreSQL server process serving the nodes' connections, by pid.

    They are found by TCP port: a node's connection to ``pg_port`` has the server process at its other end.
    Empty when the server is on another machine.
    """
    import psutil

    ports = set()
    for node in nodes:
        try:
            root = psutil.Process(node.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                ports.update(c.laddr.port for c in proc.net_connections("tcp") if c.raddr and c.raddr.port == pg_port)
        except psutil.Error:
            pass
    cpu = {}
    for conn in psutil.net_connections("tcp"):
        if conn.pid and conn.laddr.port == pg_port and conn.raddr and conn.raddr.port in ports:
            try:
                times = psutil.Process(conn.pid).cpu_times()
                cpu[conn.pid] = times.user + times.system
            except psutil.Error:
                pass
    return cpu


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@defer.inlineCallbacks
def bench(reactor: Any, args: argparse.Namespace) -> Iterator[Any]:
    from cfxstore.credentials.service import CredentialService
    from cfxstore.management import Management
    from cfxstore.database import open_database

    base = args.postgres
    pg_port = int(conninfo_to_dict(base).get("port") or 5432)
    url = in_schema(base, SCHEMA)
    tmp = tempfile.mkdtemp(prefix="cfxstore-clusterbench-")
    nodes: list[_Node] = []
    drop_schema(base, SCHEMA)
    try:
        print(f"# cfxstore cluster bench: python {platform.python_version()}, {platform.machine()}, "
              f"{os.cpu_count()} cpu(s) shared by the nodes and the clients, {args.clients} concurrent clients, "
              f"{args.seconds:g} s per run, best of {args.rounds}")
        with open_database(url) as db:
            credentials = CredentialService(db)
            ticket = secrets.token_urlsafe(24)
            Management(credentials.db, credentials=credentials).principals.create(
                realm=REALM, authid=AUTHID, role="user", ticket=ticket, generated=True)
        a, port_a = cluster_node(tmp, "a", url)
        nodes.append(a)
        b, port_b = cluster_node(tmp, "b", url)
        nodes.append(b)
        cookies = yield _cookies([port_a, port_b], args.clients, ticket)

        configs = {"1 node": [port_a], "2 nodes": [port_a, port_b]}
        best: dict[str, tuple[float, float, float, float, dict]] = {}
        for _ in range(args.rounds):  # taking turns, so that a busy moment of the machine hits both
            for label, ports in configs.items():
                router_cpu, client_cpu, server_cpu = a.cpu() + b.cpu(), _client_cpu(), _server_cpu(nodes, pg_port)
                counts = yield run_loops(args.clients, args.seconds, lambda c, i, p=ports: _attempt(
                    p[i % len(p)], None, None, cookie=cookies[c]))
                logins = max(counts["ok"], 1)
                rate = counts["ok"] / counts["seconds"]
                server = sum(t - server_cpu.get(pid, 0.0) for pid, t in _server_cpu(nodes, pg_port).items())
                if label not in best or rate > best[label][0]:
                    best[label] = (rate, 1000 * (a.cpu() + b.cpu() - router_cpu) / logins,
                                   1000 * server / logins, 1000 * (_client_cpu() - client_cpu) / logins, counts)

        print("\n## cookie logins per second (connect + join by cookie + leave), one PostgreSQL database")
        print(f"{'routers':<10}{'logins/s':>10}{'ratio':>8}{'router CPU/login':>18}{'postgres CPU/login':>20}"
              f"{'client CPU/login':>18}{'failed':>8}")
        one = best["1 node"][0]
        for label, (rate, router_ms, server_ms, client_ms, counts) in best.items():
            print(f"{label:<10}{rate:>10.1f}{rate / one:>7.2f}x{router_ms:>15.2f} ms{server_ms:>17.2f} ms"
                  f"{client_ms:>15.2f} ms{counts['evaluated'] + counts['throttled'] + counts['other']:>8}")
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        drop_schema(base, SCHEMA)


def main(argv: list[str] | None = None) -> int:
    parser = login_parser("bench.router.cluster", __doc__)
    parser.add_argument("--postgres", type=server_url, default=default_url(),
                        metavar="URL", help="the PostgreSQL server (a schema bench_cluster is created and dropped)")
    return react(bench, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
