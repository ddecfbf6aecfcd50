"""db check (catalog, records, indexes), db info figures, and backups taken while writers run."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest
from store_factories import populate, snapshot

import orm
from cfxstore.database import open_database
from cfxstore.migrate import rawtables
from cfxstore.migrate.backup import BackupError, backup, backup_path
from cfxstore.migrate.check import check
from cfxstore.migrate.info import database_info
from cfxstore.management import Management


def break_an_index(path):
    """Delete one entry of a session index behind the ORM's back."""
    with orm.Database(path) as db:
        catalog = {e["name"]: e for e in db.catalog().values()}
        with db.begin(write=True) as txn:
            index = rawtables.bind(db, catalog["idx_sessions_by_session_id"], txn)
            key = next(iter(index.select(txn, return_values=False)))
            index.delete(txn, key)


def test_a_healthy_database_passes(db_path):
    populate(db_path)
    with open_database(db_path, readonly=True) as db:
        report = check(db)
    assert report.ok and report.tables >= 4 and report.records > 5, report.problems


def test_a_broken_index_is_found_and_repaired(db_path):
    populate(db_path)
    break_an_index(db_path)
    with open_database(db_path, readonly=True) as db:
        report = check(db)
    assert not report.ok and "idx_sessions_by_session_id" in report.problems[0]
    with open_database(db_path) as db:
        repaired = check(db, repair=True)
    assert repaired.ok and repaired.repaired
    with open_database(db_path, readonly=True) as db:
        assert check(db).ok


def test_an_old_version_is_a_problem(db_path):
    populate(db_path, version=1)
    with open_database(db_path, readonly=True, check_version=False) as db:
        report = check(db)
    assert any("cfxstore migrate up" in p for p in report.problems)


def test_a_table_of_another_application_is_noted_not_checked(db_path):
    populate(db_path)
    with orm.Database(db_path) as db:
        class Other(orm.Schema):
            def attach(self, db):
                self.things = orm.MapStringCbor(900)
        Other.attach(db)
    with open_database(db_path, readonly=True) as db:
        report = check(db)
    assert report.ok and any("'things'" in n for n in report.notes)


def test_the_change_feed_belongs_to_a_cfxstore_schema(db_path):
    populate(db_path)
    with open_database(db_path) as db:
        Management(db).roles.create(name="reader")  # appends to the change feed
    with open_database(db_path, readonly=True) as db:
        assert "changes" in {e["name"] for e in db.catalog().values()}
        report = check(db)
    assert report.ok, report.problems
    assert not any("belongs to no cfxstore schema" in n for n in report.notes), report.notes


def test_info_reports_version_sizes_and_tables(db_path):
    populate(db_path, sessions=5)
    with open_database(db_path, readonly=True) as db:
        info = database_info(db)
    assert info["schema_version"] == 2 and info["state"] == "current"
    assert info["file_bytes"] > 0 and info["used_bytes"] > 0 and info["free_bytes"] >= 0
    sessions = next(t for t in info["tables"] if t["name"] == "sessions")
    assert sessions["records"] == 5 and sessions["bytes"] > 0 and sessions["bytes_exact"]
    index = next(t for t in info["tables"] if t["name"] == "idx_sessions_by_session_id")
    assert index["index_of"] == "sessions" and index["schema"] == "RealmStore"


def test_info_estimates_large_tables(db_path, monkeypatch):
    from cfxstore.migrate import info as info_module

    populate(db_path, sessions=30)
    monkeypatch.setattr(info_module, "SAMPLE", 10)
    with open_database(db_path, readonly=True) as db:
        sessions = next(t for t in database_info(db)["tables"] if t["name"] == "sessions")
    assert not sessions["bytes_exact"] and sessions["bytes"] > 0


def test_backup_paths_do_not_collide(tmp_path):
    now = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    first = backup_path(str(tmp_path / "db"), 3, now)
    assert first == str(tmp_path / "db.backup-3-20300102T030405Z")
    os.makedirs(first)
    assert backup_path(str(tmp_path / "db"), 3, now) == first + "-2"


WRITER = r"""
import sys
from cfxstore.realmstore.service import SessionHistory
with SessionHistory.open(sys.argv[1]) as history:
    n = 0
    while True:
        # Each batch is one transaction: a publication and its delivery, together.
        history.store_batch([{"publication_id": 10_000 + n, "topic": "t", "publisher": 1,
                              "timestamp": 1_800_000_000_000_000_000 + n}],
                            [(77, 1_800_000_000_000_000_000 + n, 1, 10_000 + n)])
        n += 1
        if n % 20 == 0:
            print(n, flush=True)
"""


def test_a_backup_is_a_consistent_snapshot_while_a_writer_runs(db_path, tmp_path):
    populate(db_path)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), db_path], stdout=subprocess.PIPE, text=True)
    try:
        first = int(proc.stdout.readline())      # the writer is committing
        with open_database(db_path, readonly=True) as db:
            dest = backup(db, str(tmp_path / "copy"))
        later = int(proc.stdout.readline())      # and went on committing
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert later > first
    copy = snapshot(dest)
    publications = {k for k, _ in copy["publications"] if k >= 10_000}
    deliveries = {k[3] for k, _ in copy["deliveries"] if k[0] == 77}
    assert len(publications) >= first and deliveries == publications  # never one without the other
    with open_database(dest, readonly=True) as db:
        assert check(db).ok
    assert oct(os.stat(os.path.join(dest, "data.mdb")).st_mode & 0o777) == "0o600"


def test_backup_refuses_a_non_empty_destination(db_path, tmp_path):
    populate(db_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with open_database(db_path, readonly=True) as db, pytest.raises(BackupError, match="new or empty"):
        backup(db, str(tmp_path / "full"))
    assert os.listdir(tmp_path / "full") == ["x"]


def test_an_invalid_record_is_reported(db_path):
    populate(db_path)
    with orm.Database(db_path) as db:
        entry = next(e for e in db.catalog().values() if e["name"] == "cookies")
        with db.begin(write=True) as txn:
            cookies = rawtables.bind(db, entry, txn)
            key, record = next(iter(cookies.select(txn)))
            cookies[txn, key] = {**record, "max_age": -5}  # written behind the record class's back
    with open_database(db_path, readonly=True) as db:
        report = check(db)
    assert any("table 'cookies'" in p and "max_age" in p for p in report.problems), report.problems
