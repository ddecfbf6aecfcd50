"""Shared fixtures: real LMDB databases in temporary directories."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

import orm

# Shared, noisy machines: properties are about behaviour, not speed, so no
# per-example deadline and no "generation is slow" health check.
settings.register_profile("cfxstore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cfxstore")


@pytest.fixture
def db(tmp_path):
    database = orm.Database(tmp_path / "db", maxsize=2**24)
    yield database
    database.close()
