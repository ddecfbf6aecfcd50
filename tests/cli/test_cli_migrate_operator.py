"""migrate up/down refuse while another process has the database open; current, history, stamp, down -1."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from store_factories import populate, version_of

from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.runner import head

LATEST = head(load_migrations())


@pytest.fixture
def old(tmp_path):
    path = str(tmp_path / "db")
    populate(path, version=1, secrets_in_transport=True)
    return path


@pytest.fixture
def holder(old):
    """Another process that keeps the database open (as a router does) until the test ends."""
    code = textwrap.dedent(f"""
        import sys
        from cfxstore.database import open_database
        db = open_database({old!r}, check_version=False)
        print("open", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "open\n"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_up_is_refused_while_another_process_has_the_database_open(run, old, holder):
    result = run("migrate", "up", old)
    assert result.exit_code == 1
    assert f"is open in process(es) {holder.pid}" in result.stderr and "--force" in result.stderr
    assert version_of(old) == 1
    assert run("migrate", "stamp", str(LATEST), old).exit_code == 1
    # A dry run writes nothing and may run; --force is the operator's word.
    assert run("migrate", "up", old, "--dry-run").exit_code == 0
    forced = run("migrate", "up", old, "--force", "--no-backup")
    assert forced.exit_code == 0, forced.output
    assert version_of(old) == LATEST


def test_up_runs_once_the_other_process_is_gone(run, old, holder):
    holder.kill()
    holder.wait(10)
    assert run("migrate", "up", old, "--no-backup").exit_code == 0
    assert version_of(old) == LATEST


def test_current_and_history(run, old):
    assert run("migrate", "current", old).stdout.strip() == "1"
    assert run.json("migrate", "history", old) == []
    run("migrate", "up", old, "--no-backup")
    assert run.json("migrate", "current", old)["schema_version"] == LATEST
    steps = run.json("migrate", "history", old)
    assert [(s["direction"], s["from"], s["to"]) for s in steps] == [("up", 1, 2)]
    assert "0002_scrub_transport_secrets" in run("migrate", "history", old).stdout


def test_stamp_sets_the_version_without_migrating(run, old):
    result = run("migrate", "stamp", "2", old)
    assert result.exit_code == 0 and "1 -> 2 (stamped; no migration ran)" in result.stdout
    assert version_of(old) == 2
    assert run.json("migrate", "history", old) == []
    too_new = run("migrate", "stamp", str(LATEST + 1), old)
    assert too_new.exit_code == 1 and f"this cfxstore knows versions 0 to {LATEST}" in too_new.stderr


def test_down_relative(run, old):
    run("migrate", "up", old, "--no-backup")
    result = run("migrate", "down", "--to", "-1", old, "--no-backup")  # 0002 has a downgrade
    assert result.exit_code == 0, result.output
    assert version_of(old) == LATEST - 1


def test_a_new_migration_fails_with_a_clear_message_until_written(run, tmp_path):
    result = run("migrate", "new", "rename things", "--dir", str(tmp_path))
    assert result.exit_code == 0
    (path,) = tmp_path.glob("*_rename_things.py")
    namespace: dict = {"__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"is still the template: write its upgrade\(\) in .*rename_things"):
        namespace["upgrade"](None)


def test_up_to_a_lower_version_suggests_only_what_works(run, old):
    run("migrate", "up", old, "--no-backup")
    back = run("migrate", "up", old, "--to", "1")
    assert back.exit_code == 1 and "use `cfxstore migrate down --to 1` to go back" in back.stderr
    assert run("migrate", "down", "--to", "1", old, "--dry-run").exit_code == 0
    bottom = run("migrate", "up", old, "--to", "0")
    assert bottom.exit_code == 1 and "`cfxstore migrate down" not in bottom.stderr
    assert "going back is not possible either" in bottom.stderr and "restore a backup" in bottom.stderr
