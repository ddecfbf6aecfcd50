"""cfxstore migrate status | up | down | new | import-cfxdb."""

from __future__ import annotations

import os

import pytest
from cfxdb_factories import build_cookie_store, build_realm_store
from store_factories import populate, set_version, snapshot, version_of

from cfxstore.cookies.service import CookieService
from cfxstore.migrate.discovery import load_migrations


@pytest.fixture
def old(tmp_path):
    path = str(tmp_path / "db")
    populate(path, version=1, secrets_in_transport=True)
    return path


def backups(path):
    parent, name = os.path.split(path)
    return sorted(p for p in os.listdir(parent) if p.startswith(name + ".backup-"))


def test_status_of_an_old_database(run, old):
    data = run.json("migrate", "status", old)
    assert (data["schema_version"], data["code_schema_version"], data["state"]) == (1, 2, "needs-migration")
    assert data["pending"] == [2]
    result = run("migrate", "status", "--db", old)
    assert "pending" in result.stdout and "cfxstore migrate up --db" in result.stderr
    assert run("migrate", "status", old, "--check").exit_code == 1


def test_up_backs_up_then_migrates(run, old):
    before = snapshot(old)
    result = run("migrate", "up", old)
    assert result.exit_code == 0, result.output
    assert version_of(old) == 2
    [backup] = backups(old)
    assert backup.startswith("db.backup-1-")
    assert f"backup written to {os.path.join(os.path.dirname(old), backup)}" in result.stderr
    assert "migrating 1 -> 2: 0002_scrub_transport_secrets" in result.stderr
    copy = snapshot(os.path.join(os.path.dirname(old), backup))
    assert copy["sessions"] == before["sessions"] and copy["__meta__"] == before["__meta__"]
    status = run.json("migrate", "status", old)
    assert status["state"] == "current" and status["migrations"][1]["applied_at"] is not None
    assert run("migrate", "status", old, "--check").exit_code == 0


def test_up_when_current_does_nothing(run, old):
    run("migrate", "up", old)
    result = run.json("migrate", "up", old)
    assert result["steps"] == [] and result["backup"] is None
    assert len(backups(old)) == 1


def test_up_dry_run_changes_nothing(run, old):
    before = snapshot(old)
    data = run.json("migrate", "up", old, "--dry-run")
    assert data["dry_run"] and data["steps"][0]["rows_written"] == 4  # 3 sessions + 1 authenticated cookie
    assert snapshot(old) == before and backups(old) == []


def test_up_to_and_down(run, old):
    assert run.json("migrate", "up", old, "--to", "2", "--no-backup")["to"] == 2
    down = run("migrate", "down", old, "--to", "1", "--no-backup")
    assert down.exit_code == 0 and version_of(old) == 1
    refused = run("migrate", "down", old, "--to", "0")
    assert refused.exit_code == 1 and "has no downgrade" in refused.stderr
    assert run("migrate", "down", old).exit_code == 2  # --to is required


def test_a_newer_database_is_refused(run, old):
    set_version(old, 9)
    before = snapshot(old)
    result = run("migrate", "up", old)
    assert result.exit_code == 1 and "newer than this cfxstore" in result.stderr
    assert snapshot(old) == before and backups(old) == []
    assert run.json("migrate", "status", old)["state"] == "newer-than-code"


def test_up_to_an_unknown_version_is_refused(run, old):
    result = run("migrate", "up", old, "--to", "7")
    assert result.exit_code == 1 and "no schema version 7" in result.stderr
    assert version_of(old) == 1


def test_new_writes_a_template_that_loads(run, tmp_path):
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "0001_initial.py").write_text('VERSION = 1\nDESCRIPTION = "x"\ndef upgrade(ctx): pass\n')
    result = run("migrate", "new", "Add index by realm!", "--dir", str(d))
    assert result.exit_code == 0
    created = d / "0002_add_index_by_realm.py"
    assert created.exists() and f"wrote {created}" in result.stdout
    [_, second] = load_migrations(str(d))
    assert second.version == 2 and second.description == "Add index by realm!" and not second.reversible
    assert run("migrate", "new", "!!!", "--dir", str(d)).exit_code == 2
    assert run("migrate", "new", "x", "--dir", str(tmp_path / "none")).exit_code == 1


def test_new_refuses_to_write_into_site_packages(run, tmp_path):
    installed = tmp_path / "venv" / "lib" / "python3" / "site-packages" / "migrations"
    installed.mkdir(parents=True)
    result = run("migrate", "new", "x", "--dir", str(installed))
    assert result.exit_code == 1 and "site-packages" in result.stderr and "Traceback" not in result.output
    assert os.listdir(installed) == []


def test_import_cfxdb(run, tmp_path):
    cookies_path, realm_path = str(tmp_path / "cookies"), str(tmp_path / "realm")
    made = build_cookie_store(cookies_path, 3, expired=1)
    build_realm_store(realm_path)
    dest = str(tmp_path / "dest")
    data = run.json("migrate", "import-cfxdb", "--cookies", cookies_path, "--realmstore", realm_path, dest)
    assert data["created"] is True
    # The logged-in ones: anonymous stock cookies (every other one, here the expired one too) are not stored.
    assert data["tables"]["cookies"] == {"read": 4, "imported": 2,
                                         "skipped": {"anonymous (no login): never stored": 2}, "changed": {}}
    assert data["tables"]["events"]["imported"] == 6
    with CookieService.open(dest) as service:
        assert all((service.lookup(c["value"]) is not None) == bool(c["authid"]) for c in made)
    again = run("migrate", "import-cfxdb", "--cookies", cookies_path, "--db", dest)
    assert again.exit_code == 0 and "imported into" in again.stdout
    assert version_of(dest) == 2


@pytest.mark.parametrize("args, message", [
    ([], "nothing to import"),
    (["--cookies", "{missing}"], "does not exist"),
    (["--realmstore", "{cookies}"], "holds no realm store"),
    (["--cookies", "{dest}"], "is also a source"),
])
def test_import_cfxdb_refuses_wrong_sources_and_writes_nothing(run, tmp_path, args, message):
    cookies_path = str(tmp_path / "cookies")
    build_cookie_store(cookies_path, 1)
    dest = str(tmp_path / "dest")
    args = [a.format(missing=str(tmp_path / "missing"), cookies=cookies_path, dest=dest) for a in args]
    result = run("migrate", "import-cfxdb", *args, dest)
    assert result.exit_code != 0 and message in result.output
    assert not os.path.exists(dest)
