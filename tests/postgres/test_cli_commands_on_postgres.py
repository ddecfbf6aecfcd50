"""The db and migrate commands on a postgresql:// URL: the same results as on LMDB, and one-line errors.

The URLs carry a password and an sslpassword (trust authentication and a
connection without a client key ignore them) so that every output can be
checked for both.
"""

from __future__ import annotations

import json
import os

import pytest

import orm
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.runner import head
from cfxstore.schemaversion import stamp
from orm.engine import pgurl
from pg_cli import Cli, new_schemas, populate, records, subprocess_cli, version_of  # noqa: F401 - new_schemas is a fixture

LATEST = head(load_migrations())
SECRET = "hunter2pw"


def with_password(url: str) -> str:
    url = url.replace("://postgres@", f"://postgres:{SECRET}@", 1)
    return f"{url}{'&' if '?' in url else '?'}sslpassword={SECRET}"


@pytest.fixture
def run():
    return Cli()


@pytest.fixture
def url(pg_url):
    return with_password(pg_url)


def ok(result) -> None:
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert SECRET not in result.output
    error = result.stderr.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    return error


def test_a_dump_of_postgres_equals_the_dump_of_the_lmdb_database_it_was_copied_from(run, url, tmp_path):
    lmdb = str(tmp_path / "db")
    populate(lmdb)
    ok(run("db", "copy", lmdb, url))
    assert records(run, url) == records(run, lmdb)


def test_a_dump_loads_into_a_fresh_schema_and_dumps_the_same(run, url, tmp_path):
    lmdb, dump = str(tmp_path / "db"), str(tmp_path / "dump.jsonl")
    populate(lmdb)
    ok(run("db", "dump", lmdb, "--include-secrets", "--out", dump))
    loaded = run("db", "load", url, dump, "--json")
    ok(loaded)
    assert json.loads(loaded.stdout)["database"] == url.replace(SECRET, "***")
    assert records(run, url) == records(run, lmdb)
    ok(run("db", "check", url))
    again = run("db", "load", url, dump)  # the tables are not empty any more: refused, nothing written
    one_line_error(again)
    assert records(run, url) == records(run, lmdb)


def test_info_shows_the_schema_without_file_or_map_figures(run, url):
    populate(url)
    result = run("db", "info", url)
    ok(result)
    assert "***" in result.stdout and "PostgreSQL tables and indexes" in result.stdout
    assert "file size" not in result.stdout and "map" not in result.stdout
    assert run.json("db", "info", url)["state"] == "current"


def test_migrate_status_up_history_current_down_and_stamp_on_a_url(run, url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    populate(url, version=1, secrets_in_transport=True)
    status = run.json("migrate", "status", url)
    assert status["state"] == "needs-migration" and status["pending"] == [2] and SECRET not in json.dumps(status)
    assert run("migrate", "status", url, "--check").exit_code == 1
    assert run("migrate", "current", url).stdout.strip() == "1"

    up = run("migrate", "up", url, "--json")
    ok(up)
    # The backup taken first is an LMDB copy named after the schema, in the current directory.
    backup = json.loads(up.stdout)["backup"]
    assert os.path.dirname(backup) == str(tmp_path)
    assert os.path.basename(backup).startswith(f"{pgurl.parse(url).schema}.backup-1-")
    assert version_of(backup) == 1
    assert version_of(url) == LATEST
    with CookieService.open(url, readonly=True) as cookies, cookies.db.begin() as txn:
        assert all("http_cbtid" not in (c.transport or {}) for _, c in cookies.schema.cookies.select(txn))
    steps = run.json("migrate", "history", url)
    assert [(s["direction"], s["from"], s["to"]) for s in steps] == [("up", 1, 2)]
    assert run.json("migrate", "current", url)["schema_version"] == LATEST

    ok(run("migrate", "down", url, "--to", "-1", "--no-backup"))
    assert version_of(url) == 1
    stamped = run("migrate", "stamp", str(LATEST), url)
    ok(stamped)
    assert "1 -> 2 (stamped; no migration ran)" in stamped.stdout and "***" in stamped.stdout
    assert version_of(url) == LATEST


def test_a_bad_url_is_named_in_one_line(run):
    error = one_line_error(run("db", "info", f"postgresql://postgres:{SECRET}@127.0.0.1/test?schema=Bad-Name&sslpassword={SECRET}"))
    assert "schema 'Bad-Name'" in error and "***" in error


UNREACHABLE = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test?timeout=1&sslpassword={SECRET}"


def test_an_unreachable_server_is_named_in_one_line(run):
    for args in (("db", "info", UNREACHABLE), ("db", "dump", UNREACHABLE), ("migrate", "status", UNREACHABLE),
                 ("migrate", "up", UNREACHABLE)):
        error = one_line_error(run(*args))
        assert "unreachable" in error and "127.0.0.1:1" in error


def test_an_unreachable_server_gets_one_line_from_a_real_process_too():
    # Without logging configured, the pool's own messages would be printed beside the error.
    result = subprocess_cli("db", "info", UNREACHABLE)
    assert result.returncode == 1 and SECRET not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ") and "unreachable" in result.stderr


def test_a_schema_without_a_cfxstore_database_is_refused_and_left_alone(run, url, tmp_path):
    for args in (("db", "info", url), ("db", "check", url), ("db", "dump", url), ("db", "backup", url,
                 str(tmp_path / "b")), ("migrate", "status", url), ("migrate", "up", url),
                 ("migrate", "stamp", "2", url), ("cookies", "list", "--db", url)):
        error = one_line_error(run(*args))
        assert "no cfxstore database at" in error and "***" in error
    with pytest.raises(orm.DatabaseNotFound):
        orm.Database(url, readonly=True)  # nothing was created


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_database_at_another_schema_version_is_named_by_the_record_commands(run, url, offset):
    open_database(url).close()
    with orm.Database(url) as db, db.begin(write=True) as txn:
        stamp(db, txn, LATEST + offset)
    error = one_line_error(run("cookies", "list", "--db", url))
    assert f"is at schema version {LATEST + offset}" in error and "***" in error
    ok(run("db", "info", url))  # the maintenance commands work on any version
    if offset > 0:
        assert "newer" in one_line_error(run("migrate", "up", url, "--no-backup"))


def test_a_backup_of_postgres_copied_into_a_fresh_schema_holds_the_same_records(run, url, new_schemas, tmp_path):
    populate(url)
    backup = tmp_path / "backup"
    result = run("db", "backup", url, str(backup), "--json")
    ok(result)
    assert json.loads(result.stdout)["source"] == url.replace(SECRET, "***")
    assert os.path.isfile(backup / "data.mdb")  # an LMDB database
    fresh = with_password(new_schemas())
    ok(run("db", "copy", str(backup), fresh))
    assert records(run, fresh) == records(run, url)
    ok(run("db", "check", fresh))


def test_the_help_of_backup_says_what_a_backup_of_postgresql_is(run):
    text = " ".join(run("db", "backup", "--help").stdout.split())
    assert "REPEATABLE READ" in text and "db copy" in text and "pg_dump" in text


def test_a_url_where_a_file_or_directory_is_expected_is_named_without_its_password(run, url, tmp_path):
    for args in (("db", "backup", url), ("db", "backup", str(tmp_path), url), ("db", "load", url),
                 ("db", "dump", str(tmp_path), "--out", url)):
        result = run(*args)
        assert result.exit_code == 2 and SECRET not in result.output and "***" in result.stderr, result.output
