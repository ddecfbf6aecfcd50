"""Every orm test that opens a database runs once per engine: LMDB and in-memory.

A test marked ``lmdb_only`` (files, permissions, map size, processes) runs on
LMDB alone; a test that opens no database runs once.
"""

from __future__ import annotations

import pytest

import orm.database

ENGINES = ("lmdb", "memory")


def pytest_configure(config):
    config.addinivalue_line("markers", "lmdb_only: the test is about the LMDB engine itself")


def pytest_generate_tests(metafunc):
    opens_database = {"db", "tmp_path"} & set(metafunc.fixturenames)
    lmdb_only = metafunc.definition.get_closest_marker("lmdb_only") is not None
    metafunc.parametrize("engine", ENGINES if opens_database and not lmdb_only else ENGINES[:1], indirect=True)


@pytest.fixture(autouse=True)
def engine(request, monkeypatch):
    """The engine orm.Database opens when none is named."""
    monkeypatch.setattr(orm.database, "DEFAULT_ENGINE", request.param)
    return request.param
