"""On a PostgreSQL URL, migrate up/down/stamp refuse while another process is connected to the schema.

Connections find each other by the application_name every orm connection
carries: cfxstore:<schema>:<pid>@<host>, then the URL's own application_name.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

import orm
import pg
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.runner import head
from orm.engine import pgurl
from pg_cli import Cli, new_schemas, populate, version_of  # noqa: F401 - new_schemas is a fixture

LATEST = head(load_migrations())


@pytest.fixture
def run():
    return Cli()


@pytest.fixture
def old(pg_url):
    populate(pg_url, version=1, secrets_in_transport=True)
    return pg_url


def hold(url: str) -> subprocess.Popen:
    """Another process with an orm Database open on url (as a router node keeps it) until it is killed."""
    code = textwrap.dedent(f"""
        import sys
        from cfxstore.database import open_database
        db = open_database({url!r}, check_version=False)
        print("open", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "open\n"
    return proc


def connections_of(pid: int) -> int:
    """How many server backends carry the tag of process pid (for any schema)."""
    with psycopg.connect(pg.URL, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name ~ %s",
                            (rf"^cfxstore:[^:]+:{pid}@",)).fetchone()[0]


def wait_gone(pid: int, deadline: float = 30.0) -> None:
    """Until the server has ended every backend of the (killed) process pid."""
    end = time.monotonic() + deadline
    while connections_of(pid):
        assert time.monotonic() < end, f"the server still lists connections of process {pid}"
        time.sleep(0.05)


@pytest.fixture
def holder(old):
    proc = hold(old + "&application_name=node-7")
    yield proc
    proc.kill()
    proc.wait(10)


def test_up_down_and_stamp_are_refused_while_another_process_is_connected(run, old, holder):
    for args in (("migrate", "up", old), ("migrate", "down", old, "--to", "0"), ("migrate", "stamp", "2", old)):
        result = run(*args)
        assert result.exit_code == 1, result.output
        error = result.stderr.strip()
        assert "\n" not in error and "in use by 1 other process(es)" in error and "--force" in error
        # Names the other process by its tag, where it connects from and its backends.
        assert f"cfxstore:{pgurl.parse(old).schema}:{holder.pid}@" in error and "node-7" in error
        assert " from " in error and "backend pid" in error  # the client's address, or "a local socket"
    assert version_of(old) == 1


def test_force_runs_while_another_process_is_connected(run, old, holder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the backup taken before migrating goes
    assert run("migrate", "up", old, "--dry-run").exit_code == 0  # writes nothing: allowed
    forced = run("migrate", "up", old, "--force")
    assert forced.exit_code == 0, forced.output
    assert version_of(old) == LATEST


def test_up_runs_once_the_other_process_is_gone(run, old, holder):
    assert run("migrate", "up", old, "--no-backup").exit_code == 1
    holder.kill()
    holder.wait(10)
    wait_gone(holder.pid)
    result = run("migrate", "up", old, "--no-backup")
    assert result.exit_code == 0, result.output
    assert version_of(old) == LATEST


def test_a_process_connected_to_another_schema_does_not_count(run, old, new_schemas):
    other = new_schemas()
    proc = hold(other)
    try:
        result = run("migrate", "up", old, "--no-backup")
        assert result.exit_code == 0, result.output
    finally:
        proc.kill()
        proc.wait(10)


def test_every_connection_of_the_engine_carries_the_tag_and_the_urls_own_name(pg_url):
    prefix = pgurl.tag_prefix(pgurl.parse(pg_url).schema)
    with orm.Database(pg_url + "&application_name=billing") as db, db.begin(write=True), db.begin():
        with psycopg.connect(pg.URL, autocommit=True) as admin:  # two pooled connections are in use now
            names = [row[0] for row in admin.execute("SELECT application_name FROM pg_stat_activity "
                                                      "WHERE left(application_name, %s) = %s",
                                                      (len(prefix), prefix))]
    assert len(names) >= 2
    assert set(names) == {f"{pgurl.process_tag(pgurl.parse(pg_url).schema)} billing"}


def test_libpqs_pgappname_is_kept_after_the_tag_when_the_url_names_none(monkeypatch):
    monkeypatch.setenv("PGAPPNAME", "batch-job")
    assert pgurl.application_name("x", None) == pgurl.process_tag("x") + " batch-job"
    assert pgurl.application_name("x", "from-url") == pgurl.process_tag("x") + " from-url"


def test_the_tag_fits_postgresqls_limit_and_stays_unique_for_long_schemas():
    long_a, long_b = "s" * 60 + "abc", "s" * 60 + "abd"
    for schema in ("cfxstore", long_a):
        name = pgurl.application_name(schema, "a label that is far too long to fit after the tag " * 3)
        assert len(name.encode()) <= pgurl.NAME_LIMIT
        assert name.startswith(pgurl.process_tag(schema) + " a label")
    assert pgurl.tag_prefix("cfxstore") == "cfxstore:cfxstore:"
    assert pgurl.tag_prefix(long_a) != pgurl.tag_prefix(long_b)
    assert pgurl.process_tag("x").startswith("cfxstore:x:")
