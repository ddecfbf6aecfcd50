"""Fixtures of the command tests: a CliRunner and populated databases."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The database and Crossbar factories live with the maintenance tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "migrate"))

from cli_helpers import Cli  # noqa: E402
from store_factories import populate  # noqa: E402


@pytest.fixture
def run():
    return Cli()


@pytest.fixture
def db(tmp_path):
    """A populated current database; returns (path, what was made)."""
    path = str(tmp_path / "db")
    return path, populate(path)
