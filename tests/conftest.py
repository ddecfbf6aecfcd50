"""Shared fixtures: real LMDB databases in temporary directories."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import orm

# Shared, noisy machines: properties are about behaviour, not speed, so no
# per-example deadline and no "generation is slow" health check.
settings.register_profile("cfxstore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cfxstore")

# The suite starts a few hundred Python processes (CLI runs, routers, killed writers), each importing
# cfxstore: let them compile each module once and reuse it, even where the environment asks Python
# not to write bytecode (PYTHONDONTWRITEBYTECODE). Set here, before pytest-xdist starts its workers.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


@pytest.fixture
def db(tmp_path):
    database = orm.Database(tmp_path / "db", maxsize=2**24)
    yield database
    database.close()
