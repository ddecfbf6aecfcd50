"""Backups and new databases appear whole or not at all, whenever the process making them is killed.

Real `cfxstore` processes are SIGKILLed at named points (ORM_CRASH_AT,
see orm/crashpoint.py) and from outside at instants spread over the
work; afterwards the destination is either absent or complete, and
rerunning the command succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import clichildren
import pytest
from cfxdb_factories import build_cookie_store
from store_factories import populate, snapshot, version_of

import orm
from orm.engine.lmdb import LmdbEngine
from cfxstore.database import create_database, exists, open_database
from cfxstore.migrate.backup import BackupError, backup
from cfxstore.migrate.check import check
from cfxstore.schemaversion import SCHEMA_VERSION

DEADLINE = 60
CREATE_POINTS = ["create-stamped", "publish-synced", "publish-renamed"]


def run_cli(*args, crash_at=None):
    """The command to its end, in a process forked with the CLI imported (clichildren.py)."""
    return clichildren.run(list(args), env={**os.environ, "ORM_CRASH_AT": crash_at or ""}, input="",
                           timeout=DEADLINE)


def kill_after_ready(args, delay):
    """Start the command; once it starts its work (with a deadline), SIGKILL it delay seconds later, unless it
    is done. Its exit status."""
    child = clichildren.start(args)
    assert child.ready.wait(DEADLINE), "the child never got ready"
    try:
        child.wait(delay)  # the chosen kill instant; an early finish is fine too
    except subprocess.TimeoutExpired:
        child.kill()
    return child.wait(DEADLINE)


def final_names(parent):
    """What a user sees in parent: everything but hidden temporaries."""
    return sorted(p for p in os.listdir(parent) if not p.startswith("."))


def assert_absent_or_complete(path):
    """No database, or one with its catalog and schema version, which opens and checks clean."""
    if not exists(path):
        assert not os.path.exists(path) or all(e == "lock.mdb" or e.startswith(".data.mdb.creating-")
                                               for e in os.listdir(path))
        return False
    assert version_of(path) == SCHEMA_VERSION
    with open_database(path, readonly=True) as db:
        assert check(db).ok
    return True


# -- creating a database ---------------------------------------------------------


@pytest.fixture(scope="module")
def dump_file(tmp_path_factory):
    base = tmp_path_factory.mktemp("dump")
    populate(str(base / "src"))
    out = str(base / "dump.jsonl")
    done = run_cli("db", "dump", str(base / "src"), "--out", out, "--include-secrets")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def cookie_store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cfxdb") / "cookies")
    build_cookie_store(path, n=5)
    return path


def creating_commands(target, dump_file, cookie_store):
    return {
        "db load": ["db", "load", target, dump_file],
        "import-cfxdb": ["migrate", "import-cfxdb", "--cookies", cookie_store, target],
        "principals add --create": ["principals", "add", "alice", "--db", target, "--role", "user",
                                    "--no-secret", "--create"],
    }


@pytest.mark.parametrize("command", ["db load", "import-cfxdb", "principals add --create"])
@pytest.mark.parametrize("point", CREATE_POINTS)
@pytest.mark.parametrize("where", ["new path", "empty directory"])
def test_creation_killed_at_a_point_leaves_nothing_or_a_whole_database(tmp_path, dump_file, cookie_store,
                                                                        command, point, where):
    # A new path gets a directory renamed into place; an existing empty directory (say a
    # mount point, which cannot be renamed over) gets the finished data file linked into it.
    target = str(tmp_path / "db")
    if where == "empty directory":
        os.mkdir(target)
    args = creating_commands(target, dump_file, cookie_store)[command]
    killed = run_cli(*args, crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    complete = assert_absent_or_complete(target)
    assert complete == (point == "publish-renamed")
    assert final_names(tmp_path) == (["db"] if complete or where == "empty directory" else [])
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert assert_absent_or_complete(target)
    # The rerun removed the dead process's temporary.
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []
    assert [p for p in os.listdir(target) if p.startswith(".")] == []


@pytest.mark.parametrize("point", CREATE_POINTS)
def test_a_service_killed_while_creating_its_database_leaves_nothing_or_a_whole_one(tmp_path, point):
    # The router and every service create their database through open_database (Service.open).
    target = str(tmp_path / "db")
    script = ("import sys\nfrom cfxstore.cookies.service import CookieService\n"
              "with CookieService.open(sys.argv[1]) as s:\n    s.create(max_age=60)\n")
    env = {**os.environ, "ORM_CRASH_AT": point}
    killed = subprocess.run([sys.executable, "-c", script, target], env=env, timeout=DEADLINE)
    assert killed.returncode == -signal.SIGKILL
    assert assert_absent_or_complete(target) == (point == "publish-renamed")
    again = subprocess.run([sys.executable, "-c", script, target], capture_output=True, text=True, timeout=DEADLINE)
    assert again.returncode == 0, again.stderr
    assert assert_absent_or_complete(target)


#: What running a command again says once its first run committed.
DONE_BEFORE = {"db load": "already holds", "principals add --create": "already exists"}


@pytest.mark.parametrize("command", ["db load", "import-cfxdb", "principals add --create"])
def test_creation_killed_at_spread_instants_leaves_nothing_or_a_whole_database(tmp_path, dump_file, cookie_store,
                                                                              command):
    outcomes = set()
    for i in range(4):
        target = str(tmp_path / f"db{i}")
        args = creating_commands(target, dump_file, cookie_store)[command]
        code = kill_after_ready(args, delay=0.008 * i)
        outcomes.add(code)
        assert code in (0, -signal.SIGKILL)
        assert_absent_or_complete(target)
        again = run_cli(*args)
        if command in DONE_BEFORE and again.returncode != 0:
            # The first run had committed its one transaction (it may be killed after that, before
            # it exits): a load refuses a database that holds what it would load, an add a taken name.
            assert DONE_BEFORE[command] in again.stderr, again.stderr
        else:  # the import is idempotent, and a run killed before its commit wrote nothing
            assert again.returncode == 0, again.stderr
        assert assert_absent_or_complete(target)
    assert -signal.SIGKILL in outcomes  # the spread really cut some runs short


@pytest.mark.parametrize("where", ["new path", "empty directory"])
def test_processes_creating_one_database_at_once_all_succeed(tmp_path, where):
    target = str(tmp_path / "db")
    if where == "empty directory":
        os.mkdir(target)
    script = tmp_path / "create.py"
    script.write_text("import sys\nfrom cfxstore.database import open_database\n"
                      "open_database(sys.argv[1]).close()\nprint('OK')\n")
    procs = [subprocess.Popen([sys.executable, str(script), target], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=DEADLINE)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4 and all(o.strip() == "OK" for o in outs)
    assert assert_absent_or_complete(target)
    assert sorted(os.listdir(tmp_path)) == ["create.py", "db"]
    assert sorted(os.listdir(target)) == ["data.mdb", "lock.mdb"]


def test_an_empty_directory_becomes_a_database(tmp_path):
    target = tmp_path / "db"
    target.mkdir()
    assert create_database(target) is True
    assert assert_absent_or_complete(str(target))
    assert create_database(target) is False


def test_a_directory_with_other_files_is_not_turned_into_a_database(tmp_path):
    target = tmp_path / "db"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(orm.DatabaseError, match="other files"):
        open_database(str(target))
    assert os.listdir(target) == ["notes.txt"]


# -- backups ---------------------------------------------------------------------


class Blobs(orm.Schema):
    def attach(self, db):
        self.blobs = orm.Map(900, key="uint64", value="bytes")


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """Every service's tables plus 8 MiB of blobs, so that copying takes a while."""
    path = str(tmp_path_factory.mktemp("big") / "db")
    populate(path, sessions=200, cookies=50, publications=100)
    with open_database(path) as db:
        blobs = Blobs.attach(db).blobs
        with db.begin(write=True) as txn:
            blobs.put_many(txn, ((i, os.urandom(2**17)) for i in range(64)))
    return path


@pytest.mark.parametrize("point", ["backup-copied", "publish-synced", "publish-renamed"])
def test_a_backup_killed_at_a_point_is_absent_or_whole(tmp_path, big_db, point):
    dest = str(tmp_path / "copy")
    killed = run_cli("db", "backup", big_db, dest, crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if point == "publish-renamed":
        assert snapshot(dest) == snapshot(big_db)
    else:
        assert final_names(tmp_path) == [] and len(os.listdir(tmp_path)) == 1  # a hidden temporary only
        again = run_cli("db", "backup", big_db, dest)
        assert again.returncode == 0, again.stderr
        assert snapshot(dest) == snapshot(big_db)
        assert final_names(tmp_path) == ["copy"] and os.listdir(tmp_path) == ["copy"]


def test_a_backup_killed_at_spread_instants_is_absent_or_whole(tmp_path, big_db):
    expected = snapshot(big_db)
    outcomes = set()
    for i in range(8):
        dest = str(tmp_path / f"copy{i}")
        code = kill_after_ready(["db", "backup", big_db, dest], delay=0.01 * i)
        outcomes.add(code)
        if os.path.exists(dest):
            assert snapshot(dest) == expected
    assert -signal.SIGKILL in outcomes
    assert all(p.startswith(("copy", ".copy", "child.py")) for p in os.listdir(tmp_path))


def test_a_failed_backup_leaves_no_trace(tmp_path, big_db, monkeypatch):
    def fail(self, dest, compact=True):
        with open(os.path.join(dest, "data.mdb"), "wb") as f:
            f.write(b"\0" * 4096)  # a partial copy ...
        raise orm.DatabaseError("disk full")  # ... then the copy fails

    with open_database(big_db, readonly=True) as db:
        monkeypatch.setattr(LmdbEngine, "copy", fail)
        with pytest.raises(BackupError, match=f"backup of .* to {tmp_path / 'copy'} failed: disk full"):
            backup(db, str(tmp_path / "copy"))
    assert os.listdir(tmp_path) == []


# -- reading a truncated copy ------------------------------------------------------


@pytest.mark.parametrize("command", [["db", "info"], ["db", "check"], ["migrate", "status"]])
def test_a_truncated_copy_is_refused_not_a_crash(tmp_path, big_db, command):
    dest = str(tmp_path / "copy")
    with open_database(big_db, readonly=True) as db:
        backup(db, dest)
    data = os.path.join(dest, "data.mdb")
    os.truncate(data, os.path.getsize(data) // 2)  # what a cut-short copy without the rename looked like
    done = run_cli(*command, dest)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "truncated" in done.stderr and "Traceback" not in done.stderr


def test_a_service_refuses_a_truncated_copy(tmp_path, big_db):
    dest = str(tmp_path / "copy")
    with open_database(big_db, readonly=True) as db:
        backup(db, dest)
    data = os.path.join(dest, "data.mdb")
    os.truncate(data, os.path.getsize(data) - 4096)
    script = ("import sys, orm\nfrom cfxstore.database import open_database\n"
              "try:\n    open_database(sys.argv[1]).close()\nexcept orm.DatabaseError as e:\n"
              "    print(e)\n    sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", script, dest], capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 3 and "truncated" in done.stdout, (done.returncode, done.stderr)


@pytest.mark.parametrize("point", ["backup-copied", "publish-synced"])
def test_migrate_up_killed_in_its_backup_leaves_no_backup_and_the_rerun_cleans_up(tmp_path, point):
    db = str(tmp_path / "db")
    populate(db, version=1, sessions=50)
    killed = run_cli("migrate", "up", db, crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert final_names(tmp_path) == ["db"] and version_of(db) == 1  # a hidden temporary at most
    assert any(p.startswith(".db.backup-1-") for p in os.listdir(tmp_path))
    again = run_cli("migrate", "up", db)
    assert again.returncode == 0, again.stderr
    backups = [p for p in final_names(tmp_path) if p.startswith("db.backup-1-")]
    assert len(backups) == 1 and version_of(db) == SCHEMA_VERSION
    assert sorted(os.listdir(tmp_path)) == sorted(["db", *backups])  # the killed run's temporary is gone
    assert version_of(str(tmp_path / backups[0])) == 1
