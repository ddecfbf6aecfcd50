"""The PostgreSQL engine beyond the shared orm suite: processes, URLs, credentials, copies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import orm
from pg_workers import Counters

WORKERS = str(Path(__file__).with_name("pg_workers.py"))


@pytest.mark.parametrize("fresh", [False, True], ids=["attached-before", "fresh-schema"])
def test_concurrent_writers_in_separate_processes_lose_no_update(pg_url, fresh):
    if not fresh:
        with orm.Database(pg_url) as db:
            Counters.attach(db)
    # Fresh: every worker creates the schema and registers the tables in the catalog at the same moment.
    n, procs, start = 40, 3, time.time() + 2.0
    children = [subprocess.Popen([sys.executable, WORKERS, pg_url, str(n), f"w{i}", str(start)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(procs)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=240)
        assert child.returncode == 0, err[-3000:]
        results.append(json.loads(out.splitlines()[-1]))
    with orm.Database(pg_url) as db, db.begin() as txn:
        s = Counters.attach(db)
        assert s.counters[txn, 1] == n * procs
        values = sorted(v for _, v in s.log.select(txn))
        assert values == list(range(1, n * procs + 1))  # every increment saw the one before it
    assert sum(r["attempts"] for r in results) >= n * procs


def test_a_write_conflict_is_a_retryable_orm_conflict(pg_url):
    with orm.Database(pg_url) as db:
        s = Counters.attach(db)
        with db.begin(write=True) as txn:
            s.counters[txn, 1] = 0
        other = orm.Database(pg_url.replace("?", "?application_name=second&"))
        first = db.begin(write=True)
        second = other._live().engine.begin(True)  # another connection, as another host would be
        assert s.counters[second, 1] == 0  # second's snapshot, taken before first commits
        s.counters[first, 1] = (s.counters[first, 1] or 0) + 1
        first.commit()
        with pytest.raises(orm.Conflict) as info:
            s.counters[second, 1] = 5
            second.commit()
        assert info.value.retryable
        second.abort()
        other.close()
        with db.begin() as txn:
            assert s.counters[txn, 1] == 1


def test_a_password_never_appears_in_errors_or_paths():
    url = "postgresql://someone:s3cr%40t-pw@127.0.0.1:1/nowhere?timeout=1"
    with pytest.raises(orm.DatabaseError) as info:
        orm.Database(url)
    text = str(info.value)
    assert "s3cr" not in text and "***" in text and "127.0.0.1" in text


def test_a_bad_url_gets_a_one_line_error_naming_it():
    with pytest.raises(orm.DatabaseError, match="schema 'Bad-Name'"):
        orm.Database("postgresql://postgres@127.0.0.1/test?schema=Bad-Name")
    with pytest.raises(orm.DatabaseError, match="pool_max"):
        orm.Database("postgresql://postgres@127.0.0.1/test?pool_max=x")


def test_a_readonly_open_of_a_missing_schema_names_it(pg_url):
    with pytest.raises(orm.DatabaseNotFound, match="no orm database in schema"):
        orm.Database(pg_url, readonly=True)


def test_a_backup_of_postgres_is_an_lmdb_database_with_the_same_records(pg_url, tmp_path):
    with orm.Database(pg_url) as db:
        s = Counters.attach(db)
        with db.begin(write=True) as txn:
            for i in range(300):
                s.counters[txn, i] = i * i
        db.backup(tmp_path / "copy")
    with orm.Database(tmp_path / "copy", readonly=True, engine="lmdb") as copy:
        s = Counters.attach(copy)
        txn = copy.begin()
        assert dict(s.counters.select(txn)) == {i: i * i for i in range(300)}


def test_the_engine_recovers_by_itself_when_the_server_drops_its_connections(pg_url):
    import psycopg

    import pg
    named = pg_url + "&application_name=dropped"
    with orm.Database(named) as db:
        s = Counters.attach(db)
        with db.begin(write=True) as txn:
            s.counters[txn, 1] = 1
        with psycopg.connect(pg.URL, autocommit=True) as admin:  # what a server restart does to a client
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name LIKE '% dropped'").fetchone()[0]
        assert killed >= 1
        with db.begin(write=True) as txn:  # no error: dead pooled connections are replaced
            s.counters[txn, 1] = 2
        with db.begin() as txn:
            assert s.counters[txn, 1] == 2


def test_puts_sent_together_read_back_as_single_puts_would(pg_url, monkeypatch):
    from orm.engine import postgres

    monkeypatch.setattr(postgres, "_FLUSH_AT", 7)  # so one transaction also sends full batches early
    with orm.Database(pg_url) as db:
        s = Counters.attach(db)
        with db.begin(write=True) as txn:
            for i in range(20):
                s.counters[txn, i] = i
            s.counters[txn, 3] = 300  # the last put of a key wins
            s.log[txn, "a"] = 1  # another table in the same batch
            assert s.counters[txn, 3] == 300 and s.counters.count(txn) == 20
            del s.counters[txn, 4]
            s.counters[txn, 4] = 400  # a put after a delete of the same key
            assert [v for _, v in s.counters.select(txn, from_key=2, to_key=6)] == [2, 300, 400, 5]
        with db.begin(write=True) as txn:
            s.counters[txn, 99] = 1
            txn.abort()  # pending puts of an aborted transaction never reach the server
        with db.begin() as txn:
            assert dict(s.counters.select(txn)) == {**{i: i for i in range(20)}, 3: 300, 4: 400}
            assert s.log[txn, "a"] == 1
        txn = db.begin(write=True)
        txn.commit()
        with pytest.raises(orm.TransactionError):
            s.counters[txn, 1] = 1  # refused at once, not when a later statement would send it


def test_a_single_read_is_one_statement_outside_any_transaction_and_sees_the_latest_commit(pg_url):
    from psycopg.pq import TransactionStatus

    with orm.Database(pg_url) as db:
        s = Counters.attach(db)
        with db.begin(write=True) as txn:
            s.counters[txn, 1] = 7
        with db.begin() as snapshot:  # an ordinary reader keeps its snapshot and its BEGIN open
            assert snapshot._conn.info.transaction_status == TransactionStatus.INTRANS
            with db.begin(single=True) as txn:
                assert s.counters[txn, 1] == 7
                # No BEGIN was sent: nothing to COMMIT either, the read was the one round trip.
                assert txn._conn.info.transaction_status == TransactionStatus.IDLE
            with db.begin(write=True) as txn:
                s.counters[txn, 1] = 8
            with db.begin(single=True) as txn:
                assert s.counters[txn, 1] == 8  # its own snapshot, taken by the statement
            assert s.counters[snapshot, 1] == 7
