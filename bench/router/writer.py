"""What one write-behind batch costs on PostgreSQL: round trips and commits per second.

    python -m bench.router.writer [--batches 40] [--size 50] [--rtt 0,7] [URL]

Each batch is what a router's write-behind commits for ``size`` logins: as
many new cookies bound, sessions joined and login audit events, and the batch
before's cookies noted as used (their device's last login) and its sessions
leaving, in one transaction
through the stores' write functions. The database is reached through the test
latency proxy (tests/router/pgproxy.py) with the given round-trip times in ms;
round trips are the proxy's count of requests sent after an answer, statements
its count of the queries and executes in them. The schema ``bench_writer`` is created
and dropped. It runs against whatever cfxstore is importable, so the same file
measures an older checkout (PYTHONPATH) for a before/after figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import psycopg

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.cookies.service import CookieService
from cfxstore.realmstore.service import SessionHistory

URL = os.environ.get("CFXSTORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_writer"


def _proxy_class() -> Any:
    path = Path(__file__).resolve().parents[2] / "tests" / "router" / "pgproxy.py"
    spec = importlib.util.spec_from_file_location("pgproxy", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.PgProxy


def _drop(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')


def run(url: str, rtt_ms: float, batches: int, size: int) -> dict[str, float]:
    _drop(url)
    proxy = _proxy_class()(url)
    sep = "&" if "?" in url else "?"
    cookies = CookieService.open(f"{proxy.url()}{sep}schema={SCHEMA}")
    history = SessionHistory(cookies.db)
    audit = AuditLog(cookies.db)
    joined_now = getattr(history, "put_joined", None)
    left_now = getattr(history, "put_left", None)
    sid = iter(range(1, 10**9))

    def make() -> tuple[list, list]:
        logins = []
        for i in range(size):
            _, cookie = cookies.new()
            logins.append(cookies.login(cookie, authid=f"user{i}", authrole="user", authmethod="ticket",
                                        authextra=None, authrealm="realm1"))
        sessions = [history.new_session(session_id=next(sid), realm="realm1", authid=f"user{i}",
                                        authrole="user", authmethod="ticket", run="bench") for i in range(size)]
        return logins, sessions

    def commit(logins: list, used: list, sessions: list, leaving: list) -> None:
        def batch(txn: Any) -> None:
            cookies.put(txn, logins)
            cookies.update(txn, used)
            audit.record_many(txn, [AuditEvent(kind="login", action="success", realm="realm1", authid=c.authid,
                                               method="ticket", detail={}) for c in logins])
            if joined_now is not None:
                joined_now(txn, sessions)
                left_now(txn, [(s, s.joined_at + 1) for s in leaving])
            else:
                for s in sessions:
                    history.put_session(txn, s)
                for s in leaving:
                    history.leave(txn, (s.session_id, s.joined_at + 1))
        cookies.db.transact(batch, 10, conflicts_only=True)

    try:
        bound, joined = make()
        commit(bound, [], joined, [])  # warm: tables opened, connection made
        work = [make() for _ in range(batches)]
        proxy.latency = rtt_ms / 1000.0
        turns, statements = proxy.turns, proxy.statements
        start = time.perf_counter()
        for logins, sessions in work:
            # The batch before's cookies are used (their device noted) and its sessions leave.
            commit(logins, [cookies.used(c) for c in bound], sessions, joined)
            bound, joined = logins, sessions
        elapsed = time.perf_counter() - start
        out = {"rtt_ms": rtt_ms, "commits_s": batches / elapsed, "logins_s": batches * size / elapsed,
               "round_trips_per_batch": (proxy.turns - turns) / batches,
               "statements_per_batch": (proxy.statements - statements) / batches}
        return out
    finally:
        cookies.close()
        proxy.close()
        _drop(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=URL)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--rtt", default="0,7", help="round-trip times to add, ms, comma-separated")
    args = parser.parse_args()
    for rtt in (float(x) for x in args.rtt.split(",")):
        r = run(args.url, rtt, args.batches, args.size)
        print(f"rtt {rtt:g} ms: {r['commits_s']:.1f} batches/s ({r['logins_s']:.0f} logins/s), "
              f"{r['round_trips_per_batch']:.1f} round trips and {r['statements_per_batch']:.1f} statements "
              f"per batch of {args.size} logins")


if __name__ == "__main__":
    main()
