"""Isolation across real processes and threads, with maps that must grow.

Workers (workers.py) run as separate Python processes on one LMDB database.
A ``--small-map`` worker has its address space capped, so its engine starts
at a 1 MiB map that grows between its transactions, and must adopt the map
whenever the other processes' writes outgrow it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import orm

pytestmark = pytest.mark.lmdb_only

WORKERS = str(Path(__file__).with_name("workers.py"))
TIMEOUT = 240


def start(command: str, *args: object, small_map: bool = False) -> subprocess.Popen:
    argv = [sys.executable, WORKERS, command, *map(str, args)] + (["--small-map"] if small_map else [])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.splitlines()[-1])


def run(*procs: subprocess.Popen) -> list[dict]:
    return [result(p) for p in procs]


@pytest.fixture
def path(tmp_path):
    p = str(tmp_path / "db")
    run(start("setup", p))
    return p


def bank(path: str):
    sys.path.insert(0, str(Path(WORKERS).parent))
    try:
        import workers
    finally:
        sys.path.pop(0)
    db = orm.Database(path)
    return db, workers.Bank.attach(db)


def test_concurrent_increments_lose_no_update_while_one_process_grows_its_map(path):
    n = 300
    outs = run(*(start("counter", path, n, 0) for _ in range(3)), start("counter", path, n, 100_000, small_map=True))
    grower = outs[-1]
    assert grower["start_map"] == 1 << 20 and grower["end_map"] > grower["start_map"]
    db, s = bank(path)
    with db.begin() as txn:
        assert s.accounts[txn, 1000]["counter"] == 4 * n
    db.close()


def test_a_transaction_that_fills_the_map_is_retried_whole_after_growth(path):
    # Each transaction writes 2 MB into a 1 MiB map: it fails with a retryable
    # MapFull, the map grows between transactions, and transact runs it again.
    n = 10
    (out,) = run(start("counter", path, n, 2_000_000, small_map=True))
    assert out["attempts"] > n
    db, s = bank(path)
    with db.begin() as txn:
        assert s.accounts[txn, 1000]["counter"] == n
        assert s.padding.count(txn) == n  # no attempt left anything behind
    db.close()


def test_unique_index_holds_under_concurrent_inserts(path):
    n = 200
    outs = run(*(start("unique", path, n, 0) for _ in range(3)), start("unique", path, n, 50_000, small_map=True))
    assert sum(o["inserted"] for o in outs) == n
    assert sum(o["refused"] for o in outs) == 3 * n
    db, s = bank(path)
    with db.begin() as txn:
        assert s.people.count(txn) == n and s.by_email.count(txn) == n
        assert s.people.check_indexes(txn) == []
    db.close()


def test_readers_in_threads_and_processes_see_only_consistent_snapshots(path):
    total = 20 * 1000
    readers = [start("reader", path, 4, 0), start("reader", path, 4, 0, small_map=True)]
    writers = [start("transfer", path, 400, 0, 2), start("transfer", path, 400, 60_000, 3, small_map=True)]
    writer_outs = run(*writers)
    for out in writer_outs + run(*readers):
        assert out["errors"] == []
        assert out["reads"] > 0 and out["sums"] == [total]
    grower = writer_outs[1]  # its reader threads were open while it grew its map
    # It asked for 1 MiB, but opens at whatever size the other writer has grown the map to by then.
    assert grower["end_map"] > max(grower["start_map"], 8 << 20)


def test_opening_while_another_process_grows_the_database(path):
    grower = start("grow", path, 60, 1_000_000)
    reader = start("reader", path, 4, 1, small_map=True)
    run(grower)
    out = result(reader)
    assert out["errors"] == [] and out["reads"] > 0 and out["sums"] == [20 * 1000]
    assert out["map"] > 1 << 20  # it adopted the size the other process grew to
