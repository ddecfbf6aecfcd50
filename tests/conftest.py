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


# The modules that take longest (wall seconds each in the README's parallel run), started first:
# --dist loadscope hands out whole modules, and a long one started last leaves the other workers idle
# while it ends the run. The rest keep their order (short ones fill the gaps at the end).
LONGEST_FIRST = (
    "tests/router/test_stock_upgrade_e2e.py", "tests/orm/test_core.py", "tests/router/test_cluster_stop.py",
    "tests/router/test_router_e2e.py", "tests/router/test_cluster_outage.py", "tests/migrate/test_import_kill.py",
    "tests/router/test_router_auth_e2e.py", "tests/router/test_off_reactor_e2e.py",
    "tests/router/test_router_hardening.py", "tests/router/test_logins_end_e2e.py",
    "tests/migrate/test_atomic_kill.py", "tests/router/test_cookie_reads_off_reactor_e2e.py",
    "tests/router/test_cryptosign_adopt_e2e.py", "tests/cli/test_cli_subprocess.py", "tests/router/test_cluster_e2e.py",
    "tests/router/test_monitoring_e2e.py", "tests/management/test_rules.py", "tests/orm/test_concurrency.py",
    "tests/credentials/test_scram.py", "tests/migrate/test_fx_import.py", "tests/router/test_cluster_writebehind.py",
    "tests/test_fuzz_inputs.py", "tests/orm/test_keys.py", "tests/router/test_failover_e2e.py",
    "tests/router/test_stock_scram_tls_e2e.py",
)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # pytest-xdist >= 3.7 would order modules by test count


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture
def db(tmp_path):
    database = orm.Database(tmp_path / "db", maxsize=2**24)
    yield database
    database.close()
