"""Read-only commands create, modify or chmod nothing: not the database, not its directory, not the node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from store_factories import populate

from cfxstore.router.launcher import init_node

READ_ONLY = [
    ["db", "info"], ["db", "info", "--all"], ["db", "check"], ["db", "dump"],
    ["migrate", "status"], ["migrate", "current"], ["migrate", "history"],
    ["sessions", "list"], ["sessions", "show", "101"], ["events", "list", "--topic", "com.example"],
    ["events", "list", "--subscription", "42"], ["events", "subscriptions"],
    ["cookies", "list"], ["principals", "list"],
]


def _state(*dirs: Path) -> dict:
    """Every entry under dirs with its mode, size and modification time (lock.mdb: mode only)."""
    found = {}
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            for name in subdirs + files:
                path = os.path.join(root, name)
                st = os.stat(path)
                found[path] = (st.st_mode,) if name == "lock.mdb" else (st.st_mode, st.st_size, st.st_mtime_ns)
        st = os.stat(top)
        found[str(top)] = (st.st_mode, st.st_mtime_ns)
    return found


@pytest.fixture(params=["without lock file", "with lock file"])
def node(request, tmp_path):
    cbdir = tmp_path / "node"
    init_node(str(cbdir))
    db = cbdir / "cfxstore-db"
    populate(str(db))
    if request.param == "without lock file":
        os.unlink(db / "lock.mdb")  # a copied or restored database
    # Modes an operator chose: a read-only command must not "fix" them.
    os.chmod(db / "data.mdb", 0o640)
    os.chmod(db, 0o750)
    return cbdir, db


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_leave_no_trace(run, node, command):
    cbdir, db = node
    before = _state(cbdir)
    result = run(*command, "--db", str(db))
    assert result.exit_code == 0, result.output
    result = run(*command, "--cbdir", str(cbdir))
    assert result.exit_code == 0, result.output
    assert _state(cbdir) == before


def test_router_check_leaves_no_trace(run, node):
    cbdir, _ = node
    before = _state(cbdir)
    assert run("router", "check", "--cbdir", str(cbdir)).exit_code == 0
    assert _state(cbdir) == before


def test_a_stray_data_file_is_inspected_without_creating_a_lock_file(run, node, tmp_path):
    _, db = node
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "data.mdb").write_bytes((db / "data.mdb").read_bytes())
    result = run("db", "info", str(stray))
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(stray)) == ["data.mdb"]


def test_backup_with_dest_forgotten_or_without_its_parent(run, node, tmp_path):
    _, db = node
    forgot = run("db", "backup", str(db))
    assert forgot.exit_code == 2 and f"cfxstore db backup {db} DEST" in forgot.stderr
    nowhere = run("db", "backup", str(db), str(tmp_path / "no" / "such" / "backup"))
    assert nowhere.exit_code == 1 and "does not exist; create it first" in nowhere.stderr
    assert not (tmp_path / "no").exists()
