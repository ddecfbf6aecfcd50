"""Every orm test that opens a database runs once per engine: LMDB, in-memory and PostgreSQL.

A test marked ``lmdb_only`` (files, permissions, map size, processes) runs on
LMDB alone; a test that opens no database runs once. On PostgreSQL a test's
local database paths become private schemas of the test server (tests/pg.py),
dropped afterwards; the PostgreSQL runs are skipped, with the reason, when the
server is unreachable.
"""

from __future__ import annotations

import os

import pytest

import orm.database
import pg

ENGINES = ("lmdb", "memory", "postgres")


def pytest_configure(config):
    config.addinivalue_line("markers", "lmdb_only: the test is about the LMDB engine itself")


def pytest_generate_tests(metafunc):
    opens_database = {"db", "tmp_path"} & set(metafunc.fixturenames)
    lmdb_only = metafunc.definition.get_closest_marker("lmdb_only") is not None
    metafunc.parametrize("engine", ENGINES if opens_database and not lmdb_only else ENGINES[:1], indirect=True)


@pytest.fixture(autouse=True)
def engine(request, monkeypatch):
    """The engine orm.Database opens when none is named."""
    if request.param != "postgres":
        monkeypatch.setattr(orm.database, "DEFAULT_ENGINE", request.param)
        yield request.param
        return
    reason = pg.unreachable()
    if reason:
        pytest.skip(reason)
    schemas: set[str] = set()
    original = orm.database.Database.__init__

    def on_postgres(self, path, *args, **kwargs):
        if kwargs.get("engine") is None and not orm.database.is_url(path) and os.fspath(path) != orm.database.MEMORY:
            schema = pg.schema_for(os.fspath(path))
            schemas.add(schema)
            path = pg.url_for(schema)
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(orm.database.Database, "__init__", on_postgres)
    try:
        yield request.param
    finally:
        if schemas:
            pg.drop_schemas(schemas)
