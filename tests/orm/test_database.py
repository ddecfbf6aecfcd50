"""Database: files, permissions, transactions, growth, sharing, backup."""

from __future__ import annotations

import os
import stat
import threading

import pytest

import orm


class Blobs(orm.Schema):
    def attach(self, db):
        self.blobs = orm.Map(1, key="uint64", value="bytes")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


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


def test_map_grows_instead_of_failing(tmp_path):
    initial = 1 << 20
    blob = os.urandom(4000)  # incompressible, one overflow page each
    with orm.Database(tmp_path / "db", maxsize=initial) as db:
        s = Blobs.attach(db)
        n = 0
        for _ in range(30):  # 30 x ~0.9 MiB > 10x the initial map
            with db.begin(write=True) as txn:
                for _ in range(220):
                    s.blobs[txn, n] = blob
                    n += 1
        assert db.stats()["map_size"] >= 16 * initial
        with db.begin() as txn:
            assert s.blobs.count(txn) == n
            assert s.blobs[txn, 0] == blob and s.blobs[txn, n - 1] == blob
    assert os.path.getsize(tmp_path / "db" / "data.mdb") >= 10 * initial


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


def test_growth_respects_the_ceiling(tmp_path):
    with orm.Database(tmp_path / "db", maxsize=1 << 20, maxsize_limit=2 << 20) as db:
        s = Blobs.attach(db)
        with pytest.raises(orm.MapFull, match="ceiling"):
            with db.begin(write=True) as txn:
                for i in range(3000):
                    s.blobs[txn, i] = os.urandom(3000)
        with db.begin() as txn:
            assert s.blobs.count(txn) == 0


def test_same_path_twice_shares_the_environment(tmp_path):
    os.chdir(tmp_path)
    a = orm.Database("db")
    b = orm.Database(str(tmp_path / "db"))
    sa, sb = Blobs.attach(a), Blobs.attach(b)
    with a.begin(write=True) as txn:
        sa.blobs[txn, 7] = b"seven"
    with b.begin() as txn:
        assert sb.blobs[txn, 7] == b"seven"
    a.close()
    with b.begin() as txn:  # closing one handle leaves the other working
        assert sb.blobs[txn, 7] == b"seven"
    b.close()
    with pytest.raises(orm.DatabaseClosed):
        b.begin()


def test_readonly_open_of_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(orm.DatabaseNotFound, match="no database at"):
        orm.Database(tmp_path / "missing", readonly=True)
    assert not (tmp_path / "missing").exists()


def test_readonly_database_reads_and_refuses_writes(tmp_path):
    with orm.Database(tmp_path / "db") as db:
        s = Blobs.attach(db)
        with db.begin(write=True) as txn:
            s.blobs[txn, 1] = b"x"
    with orm.Database(tmp_path / "db", readonly=True) as db:
        s = Blobs.attach(db)
        with db.begin() as txn:
            assert s.blobs[txn, 1] == b"x"
        with pytest.raises(orm.ReadOnlyError):
            db.begin(write=True)


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
    with orm.Database(dest, readonly=True) as copy:
        s2 = Blobs.attach(copy)
        with copy.begin() as txn:
            assert s2.blobs.count(txn) == 100
            assert s2.blobs[txn, 42] == b"v42"


def test_backup_refuses_a_non_empty_destination(tmp_path, db):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(orm.DatabaseError, match="empty directory"):
        db.backup(tmp_path / "full")


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


def test_a_select_survives_growth_in_the_middle(tmp_path):
    class Two(orm.Schema):
        def attach(self, db):
            self.src = orm.Map(1, key="uint64", value="bytes")
            self.dst = orm.Map(2, key="uint64", value="bytes")

    with orm.Database(tmp_path / "db", maxsize=1 << 20) as db:
        s = Two.attach(db)
        with db.begin(write=True) as txn:
            for i in range(100):
                s.src[txn, i] = b"%d" % i
        size = db.stats()["map_size"]
        seen = []
        with db.begin(write=True) as txn:
            for k, v in s.src.select(txn):
                seen.append(k)
                for j in range(10):  # ~3 MiB in all: the map grows while we iterate
                    s.dst[txn, k * 10 + j] = os.urandom(3000)
        assert seen == list(range(100))
        assert db.stats()["map_size"] > size
        with db.begin() as txn:
            assert s.dst.count(txn) == 1000


def test_put_many_grows_the_map_too(tmp_path):
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


def test_a_fixed_size_map_fails_cleanly_when_full(tmp_path):
    # maxsize == maxsize_limit: no growth, so no write log; a full map is final.
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


def test_growth_replays_every_kind_of_write(tmp_path):
    # Single puts, a put_many that fills the map mid-batch, deletes and a truncate
    # all land in the write log; after growth the transaction reads as written.
    class Two(orm.Schema):
        def attach(self, db):
            self.blobs = orm.Map(1, key="uint64", value="bytes")
            self.other = orm.MapStringCbor(2)

    with orm.Database(tmp_path / "db", maxsize=1 << 20) as db:
        s = Two.attach(db)
        blob = os.urandom(3000)
        with db.begin(write=True) as txn:
            s.other[txn, "gone"] = 1
            s.other.truncate(txn)
            s.other[txn, "a"] = {"x": 1}
            s.blobs[txn, 0] = b"first"
            s.blobs.put_many(txn, ((i, blob) for i in range(1, 1500)))
            del s.blobs[txn, 7]
            s.other[txn, "b"] = [2]
        with db.begin() as txn:
            assert s.blobs.count(txn) == 1499 and s.blobs[txn, 0] == b"first" and s.blobs[txn, 7] is None
            assert dict(s.other.select(txn)) == {"a": {"x": 1}, "b": [2]}
        assert db.stats()["map_size"] > 1 << 20


def test_a_failed_put_many_batch_stays_exact_across_growth(tmp_path):
    # The engine writes a batch in one call that stops at a key too long for it;
    # the pairs before that key are written as by single puts, and must still be
    # there when the map grows later in the same transaction and it is replayed.
    class Keyed(orm.Schema):
        def attach(self, db):
            self.t = orm.Map(1, key="bytes", value="bytes")

    with orm.Database(tmp_path / "db", maxsize=1 << 20) as db:
        s = Keyed.attach(db)
        with db.begin(write=True) as txn:
            with pytest.raises(orm.KeyTooLong, match="table t"):
                s.t.put_many(txn, [(b"a", b"1"), (b"b", b"2"), (b"x" * 600, b"bad"), (b"c", b"3")])
            assert s.t[txn, b"b"] == b"2" and s.t[txn, b"c"] is None
            s.t.put_many(txn, ((b"blob%d" % i, os.urandom(3000)) for i in range(1500)))
        assert db.stats()["map_size"] > 1 << 20
        with db.begin() as txn:
            assert s.t[txn, b"a"] == b"1" and s.t[txn, b"b"] == b"2" and s.t[txn, b"c"] is None
            assert s.t.count(txn) == 1502
