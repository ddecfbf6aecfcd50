import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

# The router tests' certificate maker (tlscerts.py), for the TLS credential tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "router"))


@pytest.fixture
def hasher():
    # Real argon2id, cheap parameters: the tests check behaviour, not cost.
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "db"


@pytest.fixture
def db(db_path):
    import orm

    database = orm.Database(str(db_path), maxsize=2**26)
    yield database
    database.close()


@pytest.fixture
def svc(db, hasher):
    from cfxstore.credentials import CredentialService

    return CredentialService(db, hasher=hasher)


@pytest.fixture
def principals(db, svc):
    # Principals and their secrets are written by their owner; svc verifies what it wrote.
    from cfxstore.management import Management

    return Management(db, credentials=svc).principals


@pytest.fixture
def alice(principals):
    return principals.create(realm="realm1", authid="alice", role="user", extra={"tier": "gold"})
