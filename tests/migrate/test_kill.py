"""A migration killed at any point leaves the database at its old version, intact and usable.

Each case runs `cfxstore migrate up` in a child process that is SIGKILLed
after a given number of rows: by itself (exact points), or from outside
while it holds the write transaction open (the child pauses and says so).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time

import pytest
from store_factories import populate, snapshot, version_of

from cfxstore.cookies.service import CookieService
from cfxstore.realmstore.service import SessionHistory

SESSIONS, COOKIES = 300, 100
ROWS = SESSIONS + COOKIES          # rows walked by migration 0002
DEADLINE = 60

CHILD = r'''
import os, signal, sys
from cfxstore.migrate import context

mode, point, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def die():
    if mode == "pause":
        print("PAUSED", flush=True)
        sys.stdin.readline()          # the test kills us while we wait here
    os.kill(os.getpid(), signal.SIGKILL)

if point == 0:                        # the backup is copied but not yet renamed into place
    os.environ["CFXSTORE_CRASH_AT"] = "backup-copied"
else:
    original, seen = context.MigrationContext._row, [0]
    def row(self, name, done, total):
        original(self, name, done, total)
        seen[0] += 1
        if seen[0] == point:
            die()
    context.MigrationContext._row = row

from cfxstore.cli.main import cli
cli(["migrate", "up", "--db", path])
'''


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A version-1 database whose sessions and cookies carry secrets (built once, copied per case)."""
    path = str(tmp_path_factory.mktemp("template") / "db")
    populate(path, version=1, sessions=SESSIONS, cookies=COOKIES, secrets_in_transport=True)
    return path


def child(tmp_path, mode, point, db):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # stderr goes to a file: a full pipe nobody reads would stall the child.
    log = open(tmp_path / "child.log", "w")
    try:
        return subprocess.Popen([sys.executable, str(script), mode, str(point), db], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log, text=True)
    finally:
        log.close()


def child_log(tmp_path):
    return (tmp_path / "child.log").read_text()


def wait_for_line(proc, wanted, deadline):
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            line = proc.stdout.readline()
            if line.strip() == wanted:
                return
            if line == "":
                raise AssertionError(f"child exited before printing {wanted!r}")
    raise AssertionError(f"no {wanted!r} from the child within the deadline")


def assert_intact_then_migrates(db, before, version):
    assert version_of(db) == version
    after = snapshot(db)
    assert {k: v for k, v in after.items() if k != "__meta__"} == {k: v for k, v in before.items() if k != "__meta__"}
    done = subprocess.run([sys.executable, "-m", "cfxstore.cli.main", "migrate", "up", "--db", db, "--no-backup"],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert version_of(db) == 2
    with SessionHistory.open(db) as history:
        assert all("http_cbtid" not in (history.get_session(100 + i).transport or {}) for i in range(SESSIONS))
    with CookieService.open(db) as cookies:
        assert cookies.purge_expired(now=0) == 0  # the database takes writes again


@pytest.mark.parametrize("point", [0, 1, 150, SESSIONS, SESSIONS + 1, ROWS - 1, ROWS])
def test_a_migration_killed_after_k_rows_leaves_version_1(tmp_path, template, point):
    db = str(tmp_path / "db")
    shutil.copytree(template, db)
    before = snapshot(db)
    proc = child(tmp_path, "self", point, db)
    proc.communicate(timeout=DEADLINE)
    assert proc.returncode == -signal.SIGKILL, child_log(tmp_path)
    backups = [p for p in os.listdir(tmp_path) if p.startswith("db.backup-")]
    # Killed inside the backup: only its hidden temporary is left, never a final-named partial copy.
    assert backups == [] if point == 0 else len(backups) == 1
    assert_intact_then_migrates(db, before, 1)


@pytest.mark.parametrize("point", [1, 200, ROWS])
def test_a_migration_killed_from_outside_leaves_version_1(tmp_path, template, point):
    db = str(tmp_path / "db")
    shutil.copytree(template, db)
    before = snapshot(db)
    proc = child(tmp_path, "pause", point, db)
    try:
        wait_for_line(proc, "PAUSED", time.monotonic() + DEADLINE)
        # While the child holds its write transaction, readers still see the old version.
        assert version_of(db) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE)
    assert proc.returncode == -signal.SIGKILL
    assert_intact_then_migrates(db, before, 1)


def test_killed_in_the_second_step_keeps_the_first(tmp_path):
    db = str(tmp_path / "db")
    populate(db, version=None, sessions=20, cookies=4, secrets_in_transport=True)
    before = snapshot(db)
    proc = child(tmp_path, "self", 10, db)
    proc.communicate(timeout=DEADLINE)
    assert proc.returncode == -signal.SIGKILL
    # 0001 committed on its own; 0002 was rolled back by the kill.
    assert version_of(db) == 1
    after = snapshot(db)
    assert after["sessions"] == before["sessions"] and after["cookies"] == before["cookies"]
    backups = [p for p in os.listdir(tmp_path) if p.startswith("db.backup-0-")]
    assert len(backups) == 1
