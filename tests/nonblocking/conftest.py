"""Fixtures of the non-blocking service tests: a real LMDB file, a private PostgreSQL schema, each of them held
locked by another process or connection, and a small pool."""

from __future__ import annotations

from typing import Iterator

import pytest

import pg
from cfxstore.database import open_database
from cfxstore.nonblocking import ServicePool
from nonblocking_holds import Held, lmdb_write_lock, pg_row_lock, waits_for_a_lock


@pytest.fixture
def lmdb_path(tmp_path) -> str:
    return str(tmp_path / "db")


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg.private_url()


@pytest.fixture
def pool() -> Iterator[ServicePool]:
    p = ServicePool(threads=2, max_waiting=2, name="test-pool")
    yield p
    p.close()


@pytest.fixture(params=["lmdb", "postgresql"])
def database(request, lmdb_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else lmdb_path
    db = open_database(url)
    yield db
    db.close()


@pytest.fixture(params=["lmdb", "postgresql"])
def held(request, lmdb_path) -> Held:
    """LMDB: another process holds the write lock (a call waits once a thread took it); PostgreSQL: another
    connection holds the rows every management write updates (a call waits once the server says so)."""
    if request.param == "lmdb":
        return Held(lmdb_path, lambda: lmdb_write_lock(lmdb_path), lambda pool: pool.running == 1)
    url = request.getfixturevalue("pg_url")
    return Held(url, lambda: pg_row_lock(url), lambda pool: waits_for_a_lock(url))
