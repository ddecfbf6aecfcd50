"""A private PostgreSQL schema per test (tests/pg.py); skipped with the reason when the server is unreachable."""

from __future__ import annotations

import pytest

import pg


@pytest.fixture
def pg_url():
    yield from pg.private_url()
