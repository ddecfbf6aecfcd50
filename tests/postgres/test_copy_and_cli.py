"""cfxstore on a PostgreSQL URL: db copy both ways, the db commands, and the services."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import orm
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.schemaversion import DatabaseTooOld, latest_version, stamp


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfxstore.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_services_run_on_postgres_and_the_database_is_stamped(pg_url):
    with CookieService.open(pg_url) as cookies:
        value, cookie = cookies.create(max_age=60)
        assert cookies.lookup(value).oid == cookie.oid
        assert cookies.lookup(value + "x") is None
    with open_database(pg_url, readonly=True) as db:
        from cfxstore.schemaversion import stored_version
        with db.begin() as txn:
            assert stored_version(db, txn) == latest_version()


def test_a_database_at_another_schema_version_is_refused_naming_it(pg_url):
    open_database(pg_url).close()
    with orm.Database(pg_url) as db, db.begin(write=True) as txn:
        stamp(db, txn, latest_version() - 1)
    with pytest.raises(DatabaseTooOld, match="schema version"):
        open_database(pg_url)


def test_db_copy_from_lmdb_to_postgres_and_back_keeps_every_record(pg_url, tmp_path):
    src, back = str(tmp_path / "src"), str(tmp_path / "back")
    with CookieService.open(src) as cookies:
        made = [cookies.create(max_age=600) for _ in range(120)]
    run = cli("db", "copy", src, pg_url, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["entries"] > 120
    with CookieService.open(pg_url) as cookies:
        assert all(cookies.lookup(v).oid == c.oid for v, c in made)
    run = cli("db", "copy", pg_url, back)
    assert run.returncode == 0, run.stderr
    assert "counts verified" in run.stderr
    with CookieService.open(back) as cookies:
        assert all(cookies.lookup(v).oid == c.oid for v, c in made)


def test_db_copy_refuses_a_destination_that_holds_a_database(pg_url, tmp_path):
    src = str(tmp_path / "src")
    open_database(src).close()
    open_database(pg_url).close()
    run = cli("db", "copy", src, pg_url)
    assert run.returncode == 1 and "already holds a database" in run.stderr


def test_db_info_and_check_work_on_a_url_and_hide_the_password(pg_url):
    open_database(pg_url).close()
    run = cli("db", "info", pg_url, "--json")
    assert run.returncode == 0, run.stderr
    run = cli("db", "check", pg_url)
    assert run.returncode == 0, run.stderr
    secret = pg_url.replace("postgres@", "postgres:hunter2pw@").replace("schema=", "schema=x")
    run = cli("db", "info", secret)
    assert run.returncode == 1 and "hunter2pw" not in run.stderr + run.stdout
