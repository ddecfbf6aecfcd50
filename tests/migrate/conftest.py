"""Fixtures of the maintenance tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def db_path(tmp_path):
    """Path of a database that does not exist yet."""
    return str(tmp_path / "db")
