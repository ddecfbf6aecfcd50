"""Finding migration modules: numbering, required names, clear errors."""

from __future__ import annotations

import textwrap

import pytest

from cfxstore.migrate.discovery import load_migrations
from cfxstore.migrate.errors import MigrationError


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
