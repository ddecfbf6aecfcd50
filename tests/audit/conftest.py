"""A database on each engine (LMDB, memory, PostgreSQL) for the audit log's tests."""

from __future__ import annotations

import pytest

import orm
import pg


@pytest.fixture(params=["lmdb", "memory", "postgres"])
def engine_db(request, tmp_path):
    if request.param == "lmdb":
        url = str(tmp_path / "db")
    elif request.param == "memory":
        url = orm.database.MEMORY
    else:
        url = next(pg.private_url())
    with orm.Database(url, maxsize=2**24) as db:
        yield db
