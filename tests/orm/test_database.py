"""Database: files, permissions, transactions, growth, sharing, backup."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import orm


class Blobs(orm.Schema):
    def attach(self, db):
        self.blobs = orm.Map(1, key="uint64", value="bytes")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.lmdb_only
def test_creates_private_directory_and_files(tmp_path):
    path = tmp_path / "a" / "db"
    with orm.Database(path) as db:
        Blobs.attach(db)
    assert mode(path) == 0o700
    assert mode(path / "data.mdb") == 0o600
    assert mode(path / "lock.mdb") == 0o600


def test_commit_on_success_abort_on_exception(db):
    s = Blobs.attach(db)
    with db.begin(write=True) as txn:
        s.blobs[txn, 1] = b"kept"
    with pytest.raises(RuntimeError):
        with db.begin(write=True) as txn:
            s.blobs[txn, 2] = b"lost"
            raise RuntimeError("boom")
    with db.begin() as txn:
        assert s.blobs[txn, 1] == b"kept"
        assert s.blobs[txn, 2] is None


def test_write_in_read_transaction_is_refused(db):
    s = Blobs.attach(db)
    with db.begin() as txn:
        with pytest.raises(orm.ReadOnlyError):
            s.blobs[txn, 1] = b"x"


@pytest.mark.lmdb_only
def test_the_map_is_reserved_at_its_ceiling_and_the_file_grows_as_written(tmp_path):
    blob = os.urandom(4000)
    with orm.Database(tmp_path / "db", maxsize=1 << 20, maxsize_limit=1 << 34) as db:
        s = Blobs.attach(db)
        assert db.stats()["map_size"] == 1 << 34
        for n in range(30):  # ~27 MB in 30 transactions
            with db.begin(write=True) as txn:
                for i in range(220):
                    s.blobs[txn, n * 220 + i] = blob
        with db.begin() as txn:
            assert s.blobs.count(txn) == 30 * 220
    assert 25 << 20 < os.path.getsize(tmp_path / "db" / "data.mdb") < 64 << 20


def test_one_transaction_larger_than_the_map(tmp_path):
    with orm.Database(tmp_path / "db", maxsize=1 << 20) as db:
        s = Blobs.attach(db)
        blob = os.urandom(3000)
        with db.begin(write=True) as txn:
            for i in range(2000):  # ~6 MiB in one transaction
                s.blobs[txn, i] = blob
            assert s.blobs[txn, 0] == blob  # reads after growth see earlier writes
            assert sum(1 for _ in s.blobs.select(txn, return_values=False)) == 2000
        with db.begin() as txn:
            assert s.blobs.count(txn) == 2000


@pytest.mark.lmdb_only
def test_a_full_map_at_the_ceiling_is_final_and_writes_nothing(tmp_path):
    with orm.Database(tmp_path / "db", maxsize=1 << 20, maxsize_limit=2 << 20) as db:
        s = Blobs.attach(db)
        with pytest.raises(orm.MapFull, match="ceiling") as caught:
            with db.begin(write=True) as txn:
                for i in range(3000):
                    s.blobs[txn, i] = os.urandom(3000)
        assert not caught.value.retryable
        with pytest.raises(orm.MapFull, match="ceiling"):  # transact does not retry what cannot succeed
            db.transact(lambda txn: s.blobs.put_many(txn, ((i, os.urandom(3000)) for i in range(3000))))
        with db.begin() as txn:
            assert s.blobs.count(txn) == 0


def test_transact_commits_and_returns_what_fn_returns(db):
    s = Blobs.attach(db)
    assert db.transact(lambda txn: s.blobs.put_many(txn, [(1, b"a"), (2, b"b")])) == 2
    with db.begin() as txn:
        assert s.blobs[txn, 2] == b"b"


def test_transact_retries_a_retryable_error_and_stops_at_the_limit(db):
    s = Blobs.attach(db)
    calls = []

    def conflicted_twice(txn):
        calls.append(1)
        s.blobs[txn, len(calls)] = b"attempt"
        if len(calls) < 3:
            raise orm.Conflict("a concurrent transaction won")
        return len(calls)

    assert db.transact(conflicted_twice, retries=5) == 3
    with db.begin() as txn:  # the failed attempts wrote nothing
        assert [k for k, _ in s.blobs.select(txn)] == [3]

    def always_conflicted(txn):
        calls.append(1)
        raise orm.Conflict("a concurrent transaction won")

    calls.clear()
    with pytest.raises(orm.Conflict):
        db.transact(always_conflicted, retries=1)
    assert len(calls) == 2


def test_transact_with_conflicts_only_raises_other_retryable_errors_at_once(db):
    calls = []

    def lost(txn):
        calls.append(1)
        raise orm.DatabaseError("the connection was lost", retryable=True)

    with pytest.raises(orm.DatabaseError):
        db.transact(lost, retries=2)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(orm.DatabaseError):
        db.transact(lost, retries=2, conflicts_only=True)
    assert len(calls) == 1

    def conflicted_once(txn):
        calls.append(1)
        if len(calls) == 1:
            raise orm.Conflict("a concurrent transaction won")
        return "done"

    calls.clear()
    assert db.transact(conflicted_once, retries=2, conflicts_only=True) == "done"
    assert len(calls) == 2


@pytest.mark.parametrize("error", [KeyError("not an orm error"), orm.UniqueViolation("taken")])
def test_transact_does_not_retry_other_errors(db, error):
    calls = []

    def broken(txn):
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        db.transact(broken)
    assert len(calls) == 1


@pytest.mark.lmdb_only
def test_a_file_is_not_a_database(tmp_path):
    (tmp_path / "f").write_text("hello")
    with pytest.raises(orm.DatabaseError, match="not a database"):
        orm.Database(tmp_path / "f")


def test_second_write_transaction_in_one_thread_is_refused_not_deadlocked(db):
    with db.begin(write=True):
        with pytest.raises(orm.TransactionError, match="already has an open write"):
            db.begin(write=True)


def test_writers_in_threads_serialise(db):
    s = Blobs.attach(db)

    def work(base: int) -> None:
        for i in range(50):
            with db.begin(write=True) as txn:
                s.blobs[txn, base + i] = b"t"

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with db.begin() as txn:
        assert s.blobs.count(txn) == 200


def test_backup_is_a_consistent_compact_copy(tmp_path, db):
    s = Blobs.attach(db)
    with db.begin(write=True) as txn:
        for i in range(100):
            s.blobs[txn, i] = b"v%d" % i
    dest = db.backup(tmp_path / "backup")
    assert mode(dest) == 0o700 and mode(os.path.join(dest, "data.mdb")) == 0o600
    with orm.Database(dest, readonly=True, engine="lmdb") as copy:  # a memory database backs up to LMDB
        s2 = Blobs.attach(copy)
        with copy.begin() as txn:
            assert s2.blobs.count(txn) == 100
            assert s2.blobs[txn, 42] == b"v42"


def test_backup_refuses_a_non_empty_destination(tmp_path, db):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(orm.DatabaseError, match="empty directory"):
        db.backup(tmp_path / "full")


def test_a_failed_backup_leaves_nothing_under_its_name(tmp_path, db, monkeypatch):
    engine = type(db._live().engine)

    def fail(self, dest, compact=True):
        (Path(dest) / "data.mdb").write_bytes(b"\0" * 4096)  # a partial copy, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "copy", fail)
    with pytest.raises(orm.DatabaseError, match="backup of .* failed: .*No space left"):
        db.backup(tmp_path / "backup")
    # Neither the final name nor the temporary it was built under is left.
    assert [name for name in os.listdir(tmp_path) if "backup" in name] == []


@pytest.mark.lmdb_only
def test_a_truncated_copy_is_refused_before_it_is_mapped(tmp_path, db):
    s = Blobs.attach(db)
    with db.begin(write=True) as txn:
        for i in range(2000):
            s.blobs[txn, i] = os.urandom(200)
    dest = db.backup(tmp_path / "backup")
    data = os.path.join(dest, "data.mdb")
    os.truncate(data, os.path.getsize(data) // 2)
    # In a child process: mapping the truncated file would kill the reader with SIGBUS.
    child = subprocess.run([sys.executable, "-c", f"import orm; orm.Database({dest!r}, readonly=True)"],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 1, (child.returncode, child.stderr)
    assert "DatabaseError" in child.stderr and "truncated" in child.stderr


def test_stats_lists_tables_with_counts(db):
    s = Blobs.attach(db)
    with db.begin(write=True) as txn:
        s.blobs[txn, 1] = b"a"
        s.blobs[txn, 2] = b"b"
    stats = db.stats()
    assert stats["used_bytes"] > 0 and stats["map_size"] >= stats["used_bytes"]
    (entry,) = [t for t in stats["tables"] if t["slot"] == 1]
    assert entry["name"] == "blobs" and entry["entries"] == 2 and entry["key"] == "uint64"


def test_meta_values_are_transactional(db):
    with db.begin(write=True) as txn:
        db.set_meta(txn, "schema_version", 3)
    with pytest.raises(KeyError):
        with db.begin(write=True) as txn:
            db.set_meta(txn, "schema_version", 4)
            raise KeyError("abort")
    with db.begin() as txn:
        assert db.get_meta(txn, "schema_version") == 3
        assert db.get_meta(txn, "missing", "dflt") == "dflt"


def test_maxsize_is_validated(tmp_path):
    with pytest.raises(ValueError, match="maxsize"):
        orm.Database(tmp_path / "db", maxsize=10)


def test_a_select_sees_writes_made_while_it_runs_in_the_same_transaction(db):
    class Two(orm.Schema):
        def attach(self, db):
            self.src = orm.Map(1, key="uint64", value="bytes")
            self.dst = orm.Map(2, key="uint64", value="bytes")

    s = Two.attach(db)
    with db.begin(write=True) as txn:
        for i in range(0, 100, 2):
            s.src[txn, i] = b"%d" % i
    seen = []
    with db.begin(write=True) as txn:
        for k, v in s.src.select(txn):
            seen.append(k)
            s.dst[txn, k] = v
            if k < 50:
                s.src[txn, k + 1] = b"odd"  # after the cursor: seen next
            s.src[txn, k] = b"rewritten"  # the current key: not seen again
    assert seen == list(range(51)) + list(range(52, 100, 2))
    with db.begin() as txn:
        assert s.dst.count(txn) == len(seen)


def test_put_many_larger_than_maxsize(tmp_path):
    with orm.Database(tmp_path / "db", maxsize=1 << 20) as db:
        s = Blobs.attach(db)
        blob = os.urandom(3000)
        with db.begin(write=True) as txn:
            assert s.blobs.put_many(txn, ((i, blob) for i in range(1500))) == 1500
        with db.begin() as txn:
            assert s.blobs.count(txn) == 1500 and s.blobs[txn, 1499] == blob


def test_stats_of_a_readonly_database(tmp_path):
    with orm.Database(tmp_path / "db") as db:
        s = Blobs.attach(db)
        with db.begin(write=True) as txn:
            s.blobs[txn, 1] = b"x"
    with orm.Database(tmp_path / "db", readonly=True) as db:
        (entry,) = db.stats()["tables"]
        assert entry["entries"] == 1


def test_stored_table_reads_records_as_stored(db):
    @orm.table("0c6b8a0e-5a8e-4b8f-9f6e-4c1d1f1b2a33")
    class Rec:
        n: int

    class S(orm.Schema):
        def attach(self, db):
            self.recs = orm.MapOidCbor(3, Rec)

    s = S.attach(db)
    with db.begin(write=True) as txn:
        s.recs[txn, 1] = Rec(n=5)
    raw = db.stored_table(db.catalog()[3])
    with db.begin() as txn:
        assert list(raw.select(txn)) == [(1, {"n": 5})]
    assert db.catalog()[3]["name"] == "recs"


@pytest.mark.lmdb_only
def test_a_fixed_size_map_fails_cleanly_when_full(tmp_path):
    # maxsize == maxsize_limit: a full map is final, and the transaction wrote nothing.
    with orm.Database(tmp_path / "db", maxsize=1 << 20, maxsize_limit=1 << 20) as db:
        s = Blobs.attach(db)
        with db.begin(write=True) as txn:
            s.blobs[txn, 0] = b"kept"
        with pytest.raises(orm.MapFull, match="ceiling"):
            with db.begin(write=True) as txn:
                s.blobs.put_many(txn, ((i, os.urandom(3000)) for i in range(1, 1000)))
        with pytest.raises(orm.MapFull, match="ceiling"):
            with db.begin(write=True) as txn:
                for i in range(1, 1000):
                    s.blobs[txn, i] = os.urandom(3000)
        with db.begin() as txn:
            assert s.blobs.count(txn) == 1 and s.blobs[txn, 0] == b"kept"
        assert db.stats()["map_size"] == 1 << 20


@pytest.mark.lmdb_only
def test_a_transaction_broken_by_a_full_map_refuses_further_use(tmp_path):
    with orm.Database(tmp_path / "db", maxsize=1 << 20, maxsize_limit=1 << 20) as db:
        s = Blobs.attach(db)
        txn = db.begin(write=True)
        with pytest.raises(orm.MapFull):
            for i in range(1000):
                s.blobs[txn, i] = os.urandom(3000)
        with pytest.raises(orm.MapFull):
            s.blobs[txn, 0]
        with pytest.raises(orm.MapFull):
            txn.commit()
        with db.begin(write=True) as txn:  # the next transaction works
            s.blobs[txn, 1] = b"x"


def test_a_refused_put_many_batch_writes_none_of_it(db):
    class Keyed(orm.Schema):
        def attach(self, db):
            self.t = orm.Map(1, key="bytes", value="bytes")

    s = Keyed.attach(db)
    with db.begin(write=True) as txn:
        with pytest.raises(orm.KeyTooLong, match="table t"):
            s.t.put_many(txn, [(b"a", b"1"), (b"b", b"2"), (b"x" * 600, b"bad"), (b"c", b"3")])
        assert s.t.count(txn) == 0
        s.t.put_many(txn, [(b"a", b"1")])
    with db.begin() as txn:
        assert dict(s.t.select(txn)) == {b"a": b"1"}


def test_the_memory_engine_by_name_and_private_memory(tmp_path):
    with orm.Database(":memory:") as a, orm.Database(":memory:") as b:
        sa, sb = Blobs.attach(a), Blobs.attach(b)
        with a.begin(write=True) as txn:
            sa.blobs[txn, 1] = b"a"
        with b.begin() as txn:  # each ":memory:" database is its own
            assert sb.blobs[txn, 1] is None
    path = tmp_path / "named"
    with orm.Database(path, engine="memory") as db:
        with db.begin(write=True) as txn:
            Blobs.attach(db).blobs[txn, 1] = b"kept"
    with orm.Database(path, engine="memory", readonly=True) as db:  # named: lives as long as the process
        with db.begin() as txn:
            assert Blobs.attach(db).blobs[txn, 1] == b"kept"
    assert not path.exists()
    with pytest.raises(ValueError, match="unknown engine"):
        orm.Database(path, engine="sqlite")


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(db):
    s = Blobs.attach(db)
    with db.begin(write=True) as txn:
        s.blobs[txn, 1] = b"old"
    reader = db.begin()
    done = threading.Event()

    def write():
        with db.begin(write=True) as txn:
            s.blobs[txn, 1] = b"new"
            s.blobs[txn, 2] = b"added"
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert done.wait(30)
    t.join(30)
    assert s.blobs[reader, 1] == b"old" and s.blobs[reader, 2] is None and s.blobs.count(reader) == 1
    reader.commit()
    with db.begin() as txn:
        assert s.blobs[txn, 1] == b"new" and s.blobs.count(txn) == 2
