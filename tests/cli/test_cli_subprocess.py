"""The main commands as operators run them: real processes, real exit statuses and streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cfxdb_factories import build_cookie_store, build_realm_store
from cli_helpers import CFXSTORE, subprocess_cli
from store_factories import populate, set_version, version_of

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService


@pytest.mark.parametrize("via_module", [False, True])
def test_help_lists_the_command_groups(via_module):
    done = subprocess_cli("--help", via_module=via_module)
    assert done.returncode == 0
    for group in ("db", "cookies", "sessions", "events", "principals", "migrate", "router"):
        assert group in done.stdout


def test_db_info_json(tmp_path):
    path = str(tmp_path / "db")
    populate(path)
    done = subprocess_cli("db", "info", path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema_version"] == 2


def test_migrate_up_prints_backup_and_progress(tmp_path):
    path = str(tmp_path / "db")
    populate(path, version=1, sessions=1500, cookies=2, secrets_in_transport=True)
    done = subprocess_cli("migrate", "up", "--db", path, via_module=True)
    assert done.returncode == 0, done.stderr
    assert "backup written to " + path + ".backup-1-" in done.stderr
    assert "sessions: 1500/1500 rows" in done.stderr  # plain progress lines when not on a terminal
    assert "is now at version 2" in done.stderr and done.stdout == ""
    assert version_of(path) == 2


def test_services_refuse_until_migrated(tmp_path):
    path = str(tmp_path / "db")
    populate(path, version=1)
    refused = subprocess_cli("sessions", "list", "--db", path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: database ") and "cfxstore migrate up --db" in refused.stderr
    assert subprocess_cli("migrate", "up", path, "--no-backup").returncode == 0
    assert subprocess_cli("sessions", "list", "--db", path).returncode == 0


def test_dump_and_load(tmp_path):
    path, out, target = str(tmp_path / "db"), str(tmp_path / "d.jsonl"), str(tmp_path / "restored")
    made = populate(path)
    assert subprocess_cli("db", "dump", path, "--out", out, "--include-secrets").returncode == 0
    done = subprocess_cli("db", "load", target, out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"]["cookies"] == 2
    with CookieService.open(target) as service:
        assert service.lookup(made["cookies"][0]["value"]) is not None


def test_principals_add_from_stdin(tmp_path):
    path = str(tmp_path / "db")
    populate(path)
    done = subprocess_cli("principals", "add", "bob", "--db", path, "--role", "user", "--password-stdin",
                          stdin="pipe-secret\n")
    assert done.returncode == 0, done.stderr
    assert "pipe-secret" not in done.stdout + done.stderr
    with CredentialService.open(path) as service:
        assert service.verify_ticket("realm1", "bob", "pipe-secret") is not None


def test_import_cfxdb(tmp_path):
    cookies, realm, dest = str(tmp_path / "c"), str(tmp_path / "r"), str(tmp_path / "dest")
    made = build_cookie_store(cookies, 2)
    build_realm_store(realm)
    for _ in range(2):  # the second run duplicates nothing
        done = subprocess_cli("migrate", "import-cfxdb", "--cookies", cookies, "--realmstore", realm, dest)
        assert done.returncode == 0, done.stderr
    with CookieService.open(dest) as service:
        assert all(service.lookup(c["value"]).oid == c["oid"] for c in made if c["authid"])
    assert json.loads(subprocess_cli("sessions", "list", "--db", dest, "--json").stdout)[0]["realm"] == "realm1"


def test_bad_input_exits_non_zero_with_one_line(tmp_path):
    missing = subprocess_cli("db", "info", str(tmp_path / "nope"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    path = str(tmp_path / "db")
    populate(path)
    set_version(path, 5)
    newer = subprocess_cli("cookies", "list", "--db", path)
    assert newer.returncode == 1 and "newer than this cfxstore" in newer.stderr
    not_db = subprocess_cli("migrate", "import-cfxdb", "--cookies", path, str(tmp_path / "dest"))
    assert not_db.returncode == 1 and "is a cfxstore database, not a Crossbar one" in not_db.stderr
    assert not os.path.exists(tmp_path / "dest")


def test_a_closed_stderr_does_not_interrupt_a_migration(tmp_path):
    path = str(tmp_path / "db")
    populate(path, version=1, sessions=2000, cookies=2, secrets_in_transport=True)
    proc = subprocess.Popen([CFXSTORE, "migrate", "up", path, "--no-backup"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stderr.readline()  # the first progress line, then the reader goes away (`... 2>&1 | head -1`)
    proc.stderr.close()
    proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    assert version_of(path) == 2


def test_database_commands_start_without_the_router_layer():
    """`cfxstore db|principals|...` must not pay for importing Crossbar's stack (Twisted, Autobahn)."""
    probe = ("import sys; from cfxstore.cli.main import cli\n"
             "for group in ('db', 'principals', 'roles', 'realms', 'permissions', 'migrate'):\n"
             "    try: cli([group, '--help'])\n"
             "    except SystemExit: pass\n"
             "print(sorted(m for m in ('twisted', 'autobahn', 'crossbar', 'cfxstore.router') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
