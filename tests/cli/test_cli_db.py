"""cfxstore db info | check | backup | dump | load."""

from __future__ import annotations

import json
import os
import re

import pytest
from store_factories import populate, set_version, snapshot

import orm
from cfxstore.migrate import rawtables


def test_info_shows_version_and_tables(run, db):
    path, _ = db
    result = run("db", "info", path)
    assert result.exit_code == 0
    assert "schema version  2 (this cfxstore: 2) - current" in result.stdout
    assert "sessions" in result.stdout and "idx_sessions_by_session_id" not in result.stdout
    assert "idx_sessions_by_session_id" in run("db", "info", path, "--all").stdout


def test_info_json(run, db):
    path, _ = db
    data = run.json("db", "info", "--db", path)
    assert data["schema_version"] == 2 and data["state"] == "current"
    assert {t["name"]: t["records"] for t in data["tables"]}["sessions"] == 3


def test_the_path_comes_from_the_environment_by_default(run, db):
    path, _ = db
    assert run.json("db", "info", env={"CFXSTORE_DB": path})["path"] == os.path.realpath(path)


def test_two_different_paths_are_refused(run, db, tmp_path):
    path, _ = db
    result = run("db", "info", path, "--db", str(tmp_path / "other"))
    assert result.exit_code == 2 and "two database paths" in result.output


def test_info_of_an_old_database_says_to_migrate(run, db):
    path, _ = db
    set_version(path, 1)
    result = run("db", "info", path)
    assert result.exit_code == 0 and "needs `cfxstore migrate up`" in result.stdout


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no database at .* \\(the path does not exist\\)"),
    (lambda p: os.makedirs(p), "is not a cfxstore database \\(the directory has no data.mdb\\)"),
    (lambda p: open(p, "w").close(), "is a file, not a database directory"),
])
def test_bad_paths_give_a_clear_error_and_create_nothing(run, tmp_path, make, message):
    path = str(tmp_path / "target")
    make(path)
    before = sorted(os.listdir(tmp_path))
    for args in (["db", "info", path], ["db", "check", path], ["db", "dump", path],
                 ["cookies", "list", "--db", path], ["migrate", "up", path]):
        result = run(*args)
        assert result.exit_code == 1, args
        assert "Error:" in result.stderr
        assert re.search(message, result.stderr), (args, result.stderr)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_foreign_lmdb_database_is_not_taken_for_one(run, tmp_path):
    import lmdb

    path = str(tmp_path / "foreign")
    env = lmdb.open(path)
    with env.begin(write=True) as txn:
        txn.put(b"k", b"v")
    env.close()
    before = open(os.path.join(path, "data.mdb"), "rb").read()
    result = run("cookies", "purge-expired", "--db", path)
    assert result.exit_code == 1 and "not a cfxstore one" in result.stderr
    assert open(os.path.join(path, "data.mdb"), "rb").read() == before


def test_check_passes_and_fails_with_the_exit_status(run, db):
    path, _ = db
    assert run("db", "check", path).exit_code == 0
    with orm.Database(path) as database:
        entry = next(e for e in database.catalog().values() if e["name"] == "idx_cookies_by_value")
        with database.begin(write=True) as txn:
            tab = rawtables.bind(database, entry, txn)
            tab.truncate(txn)
    result = run("db", "check", path)
    assert result.exit_code == 1 and "problem: index idx_cookies_by_value" in result.stdout
    data = json.loads(run("db", "check", path, "--json").stdout)
    assert data["ok"] is False and data["problems"]
    repaired = run("db", "check", path, "--repair")
    assert repaired.exit_code == 0 and "repaired" in repaired.stdout
    assert run.json("db", "check", path)["ok"] is True


def test_backup_writes_a_usable_copy(run, db, tmp_path):
    path, _ = db
    dest = str(tmp_path / "copy")
    data = run.json("db", "backup", path, dest)
    assert data["backup"] == os.path.realpath(dest) and data["bytes"] > 0
    assert snapshot(dest) == snapshot(path)
    again = run("db", "backup", "--db", path, dest)
    assert again.exit_code == 1 and "new or empty directory" in again.stderr


def test_backup_needs_a_destination(run, db):
    assert run("db", "backup").exit_code == 2


def test_dump_then_load_round_trips(run, db, tmp_path):
    path, _ = db
    out = str(tmp_path / "dump.jsonl")
    result = run("db", "dump", path, "--out", out, "--include-secrets")
    assert result.exit_code == 0 and "dumped" in result.stderr
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    target = str(tmp_path / "restored")
    data = run.json("db", "load", target, out)
    assert data["rows"]["sessions"] == 3
    assert {k: v for k, v in snapshot(target).items() if k != "__meta__"} == \
        {k: v for k, v in snapshot(path).items() if k != "__meta__"}


def test_dump_to_stdout_is_json_lines(run, db):
    path, _ = db
    result = run("db", "dump", "--db", path)
    lines = result.stdout.splitlines()
    assert json.loads(lines[0])["format"] == "cfxstore-dump" and json.loads(lines[-1])["end"] is True
    assert "left out secret table(s) credentials" in result.stderr


def test_dump_refuses_to_overwrite(run, db, tmp_path):
    path, _ = db
    out = tmp_path / "exists.jsonl"
    out.write_text("keep me")
    result = run("db", "dump", path, "--out", str(out))
    assert result.exit_code == 1 and out.read_text() == "keep me"


def write_dump(run, path, tmp_path, edit=None):
    out = tmp_path / "dump.jsonl"
    run("db", "dump", path, "--out", str(out))
    if edit is not None:
        lines = out.read_text().splitlines()
        edit(lines)
        out.write_text("\n".join(lines) + "\n")
    return str(out)


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines.__setitem__(2, lines[2][:20]), "line 3: not valid JSON"),
    (lambda lines: lines.insert(1, '{"t": "bogus", "k": 1, "v": 1}'), "line 2: unknown table 'bogus'"),
    (lambda lines: lines.pop(), "the dump is truncated"),
    (lambda lines: lines.__setitem__(0, lines[0].replace('"schema_version":2', '"schema_version":1')),
     "schema version 1 but database"),
])
def test_a_bad_dump_writes_nothing(run, db, tmp_path, edit, message):
    path, _ = db
    file = write_dump(run, path, tmp_path, edit)
    new_target = str(tmp_path / "new")
    result = run("db", "load", new_target, file)
    assert result.exit_code == 1 and message in result.stderr
    assert not os.path.exists(new_target)
    empty = str(tmp_path / "empty")
    populate(empty, sessions=0, cookies=0, publications=0)
    before = snapshot(empty)
    assert run("db", "load", empty, file).exit_code == 1
    assert snapshot(empty) == before


def test_loading_a_dump_of_a_newer_cfxstore_is_refused(run, db, tmp_path):
    path, _ = db
    file = write_dump(run, path, tmp_path,
                      lambda lines: lines.__setitem__(0, lines[0].replace('"schema_version":2', '"schema_version":3')))
    result = run("db", "load", str(tmp_path / "new"), file)
    assert result.exit_code == 1 and "schema version 3" in result.stderr
    assert not os.path.exists(tmp_path / "new")


def test_a_failed_load_into_an_empty_directory_leaves_it_empty(run, db, tmp_path):
    path, _ = db
    file = write_dump(run, path, tmp_path, lambda lines: lines.__setitem__(
        0, lines[0].replace('"schema_version":2', '"schema_version":1')))
    target = tmp_path / "empty-dir"
    target.mkdir()
    assert run("db", "load", str(target), file).exit_code == 1
    assert os.listdir(target) == []
