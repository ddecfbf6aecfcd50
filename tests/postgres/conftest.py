"""A private PostgreSQL schema per test (tests/pg.py); skipped with the reason when the server is unreachable."""

from __future__ import annotations

import uuid

import pytest

import pg


@pytest.fixture
def pg_url():
    reason = pg.unreachable()
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:24]
    yield pg.url_for(schema)
    pg.drop_schemas({schema})
