"""Finding migration modules: numbering, required names, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from cfxstore.migrate import discovery
from cfxstore.migrate.discovery import load_migrations, new_migration_dir
from cfxstore.migrate.errors import MigrationError
from cfxstore.migrate.versions import migrations_dir, versions_in
from cfxstore.schemaversion import SCHEMA_VERSION


def write(directory, name, body):
    (directory / name).write_text(textwrap.dedent(body))


OK = """
VERSION = {v}
DESCRIPTION = "step {v}"
def upgrade(ctx):
    pass
"""


def test_the_shipped_migrations_load_in_order():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "0001_initial"
    assert all(m.description for m in migrations)


def test_other_files_are_ignored(tmp_path):
    write(tmp_path, "0001_first.py", OK.format(v=1))
    write(tmp_path, "README.txt", "not a migration")
    write(tmp_path, "helpers.py", "X = 1")
    assert [m.name for m in load_migrations(str(tmp_path))] == ["0001_first"]


def test_a_gap_in_the_numbers_is_refused(tmp_path):
    write(tmp_path, "0001_a.py", OK.format(v=1))
    write(tmp_path, "0003_c.py", OK.format(v=3))
    with pytest.raises(MigrationError, match="consecutive from 1.*no 0002"):
        load_migrations(str(tmp_path))


def test_two_files_with_one_number_are_refused(tmp_path):
    write(tmp_path, "0001_a.py", OK.format(v=1))
    write(tmp_path, "0001_b.py", OK.format(v=1))
    with pytest.raises(MigrationError, match="two migrations have version 1"):
        load_migrations(str(tmp_path))


def test_version_must_match_the_file_name(tmp_path):
    write(tmp_path, "0001_a.py", OK.format(v=2))
    with pytest.raises(MigrationError, match="VERSION must be 1"):
        load_migrations(str(tmp_path))


@pytest.mark.parametrize("body, message", [
    ('VERSION = 1\ndef upgrade(ctx): pass\n', "DESCRIPTION"),
    ('VERSION = 1\nDESCRIPTION = "x"\n', "upgrade"),
    ('VERSION = 1\nDESCRIPTION = "x"\ndef upgrade(ctx): pass\ndowngrade = 3\n', "downgrade"),
    ('import no_such_module_here\n', "cannot import.*no_such_module_here"),
])
def test_malformed_modules_are_named_in_the_error(tmp_path, body, message):
    write(tmp_path, "0001_bad.py", body)
    with pytest.raises(MigrationError, match=message) as info:
        load_migrations(str(tmp_path))
    assert "0001_bad.py" in str(info.value)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(MigrationError, match="does not exist"):
        load_migrations(str(tmp_path / "nope"))


# -- the shipped scripts cannot be shadowed ---------------------------------------------

DJANGO_APP = {
    "__init__.py": "",
    "0001_initial.py": "VERSION = 1\nDESCRIPTION = 'a django app'\ndef upgrade(ctx): pass\n",
    "0002_more.py": "VERSION = 2\nDESCRIPTION = 'more'\ndef upgrade(ctx): pass\n",
    "0009_latest.py": "VERSION = 9\nDESCRIPTION = 'ours?'\ndef upgrade(ctx): pass\n",
}
PROBE = r'''
import json, sys
import migrations  # the project's own package wins the import ...
from cfxstore.database import open_database
from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.versions import migrations_dir
from cfxstore.schemaversion import latest_version, stored_version
with open_database(sys.argv[1]) as db, db.begin() as txn:
    stamped = stored_version(db, txn)
print(json.dumps({"imported": migrations.__file__, "dir": migrations_dir(), "latest": latest_version(),
                  "loaded": [m.path for m in load_migrations()], "stamped": stamped}))
'''


def test_a_migrations_package_in_the_cwd_and_on_sys_path_changes_nothing(tmp_path):
    project = tmp_path / "project"
    (project / "migrations").mkdir(parents=True)
    for name, body in DJANGO_APP.items():
        (project / "migrations" / name).write_text(body)
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "db")], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["imported"].startswith(str(project))  # ... so a lookup by name would have found it
    assert seen["dir"] == migrations_dir() and not seen["dir"].startswith(str(project))
    assert seen["loaded"] == [m.path for m in load_migrations()]
    assert seen["latest"] == seen["stamped"] == SCHEMA_VERSION


def test_the_schema_version_constant_is_the_newest_script():
    assert versions_in(migrations_dir())[-1] == SCHEMA_VERSION == load_migrations()[-1].version


def test_a_source_checkout_finds_the_scripts_beside_the_package():
    import cfxstore

    # An installed wheel has them inside the package instead (tests/test_packaging.py).
    assert os.path.dirname(migrations_dir()) == os.path.dirname(os.path.dirname(cfxstore.__file__))


# -- where `migrate new` writes -------------------------------------------------------------


def test_new_defaults_to_the_source_checkout_it_runs_from(tmp_path, monkeypatch):
    checkout = tmp_path / "cfxstore-src"
    (checkout / "migrations").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'cfxstore'\n")
    monkeypatch.setattr(discovery, "migrations_dir", lambda: str(checkout / "migrations"))
    assert new_migration_dir(None) == str(checkout / "migrations")


def test_new_refuses_site_packages(tmp_path):
    with pytest.raises(MigrationError, match="site-packages"):
        new_migration_dir(sysconfig.get_paths()["purelib"])
    fake = tmp_path / "lib" / "python3" / "site-packages" / "migrations"
    fake.mkdir(parents=True)
    with pytest.raises(MigrationError, match="site-packages"):
        new_migration_dir(str(fake))
    assert os.listdir(fake) == []


def test_new_from_an_installed_cfxstore_needs_a_directory(tmp_path, monkeypatch):
    installed = tmp_path / "lib" / "python3" / "site-packages" / "migrations"
    installed.mkdir(parents=True)
    monkeypatch.setattr(discovery, "migrations_dir", lambda: str(installed))
    with pytest.raises(MigrationError, match="--dir"):
        new_migration_dir(None)
    mine = tmp_path / "mine"
    mine.mkdir()
    assert new_migration_dir(str(mine)) == str(mine)
