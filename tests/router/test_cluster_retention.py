"""Retention applied by several processes at once on one PostgreSQL database, while history is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pg
from cfxstore.database import open_database
from cfxstore.realmstore.service import SessionHistory
from cfxstore.timeutil import NS_PER_SECOND, now_ns
from cluster_history_worker import SUBSCRIPTION

WORKER = str(Path(__file__).with_name("cluster_history_worker.py"))
OLD = 300  # publications (two deliveries each) and left sessions older than the bound


@pytest.fixture
def pg_url():
    yield from pg.private_url()


def _seed(history: SessionHistory, bound: int) -> tuple[set[int], set[int]]:
    """Old history on both sides of the bound; returns the publication ids and session ids to keep."""
    old = [{"publication_id": i, "topic": "com.example.old", "publisher": 1, "timestamp": bound - (i + 1) * 1000}
           for i in range(1, OLD + 1)]
    new = [{"publication_id": 10_000 + i, "topic": "com.example.new", "publisher": 1, "timestamp": bound + i}
           for i in range(50)]
    deliveries = [(SUBSCRIPTION, p["timestamp"], r, p["publication_id"]) for p in old + new for r in (0, 3)]
    history.store_batch(old + new, deliveries)
    kept = set()
    for i in range(OLD):
        left = history.session_joined(session_id=1 + i, realm="realm1", authid="old", authrole="user",
                                      authmethod="ticket", joined_at=bound - 10**9)
        history.session_left(left.session_id, bound - 10**6)  # left before the bound: purged
    for i in range(20):
        joined = history.session_joined(session_id=5000 + i, realm="realm1", authid="old", authrole="user",
                                        authmethod="ticket", joined_at=bound - 10**9)
        kept.add(joined.session_id)  # still joined: kept, however old
    return {p["publication_id"] for p in new}, kept


def test_purges_from_two_processes_at_once_keep_everything_newer_than_the_bound(pg_url):
    bound = now_ns() - 3600 * NS_PER_SECOND
    with open_database(pg_url) as db:
        history = SessionHistory(db)
        kept_publications, kept_sessions = _seed(history, bound)

    workers = [subprocess.Popen([sys.executable, WORKER, mode, pg_url, str(bound), str(n)], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for mode, n in (("purge", 6), ("purge", 6), ("write", 60))]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        results = []
        for w in workers:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for w in workers:
            w.kill()

    purged, written = results[0]["deleted"] + results[1]["deleted"], results[2]
    assert purged == OLD * 3 + OLD  # each old publication with its two deliveries, and each old session, once
    kept_publications |= set(written["publications"])
    kept_sessions |= set(written["sessions"])
    with open_database(pg_url) as db:
        schema = SessionHistory(db).schema
        with db.begin() as txn:
            publications = list(schema.publications.select(txn, return_keys=False))
            deliveries = list(schema.deliveries.select(txn, return_values=False))
            sessions = list(schema.sessions.select(txn, return_keys=False))
    assert {p.publication_id for p in publications} == kept_publications
    assert all(p.timestamp >= bound for p in publications)
    assert {d[3] for d in deliveries} == kept_publications and len(deliveries) == 2 * len(kept_publications)
    assert {s.session_id for s in sessions} == kept_sessions
