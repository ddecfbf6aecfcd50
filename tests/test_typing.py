"""Both packages ship their type hints, and their public modules pass mypy (configured in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orm
import orm.aliases
from orm.table import Table

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors_in_orm_and_cfxstore(tmp_path):
    # The cache goes to a temporary directory: the checkout stays clean and a stale cache cannot hide an error.
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    assert result.returncode == 0, f"mypy reports:\n{result.stdout}{result.stderr}"


def test_both_packages_mark_themselves_typed():
    for package in ("orm", "cfxstore"):
        assert (ROOT / package / "py.typed").is_file(), f"{package}/py.typed is missing"


def test_type_checkers_see_every_named_map_orm_exports():
    # __all__ is spelled out for type checkers; a named map left out of it would be invisible to them.
    defined = {name for name, value in vars(orm.aliases).items()
               if isinstance(value, type) and issubclass(value, Table) and value.__module__ == "orm"}
    assert defined, "no named maps found"
    missing = defined - set(orm.aliases.__all__)
    assert not missing, f"missing from orm.aliases.__all__: {sorted(missing)}"
    assert all(hasattr(orm, name) for name in orm.aliases.__all__)
