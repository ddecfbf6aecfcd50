"""Shared fixtures: real LMDB databases in temporary directories."""

from __future__ import annotations

import pytest

import orm


@pytest.fixture
def db(tmp_path):
    database = orm.Database(tmp_path / "db", maxsize=2**24)
    yield database
    database.close()
