"""Fixtures of the management service tests: a real LMDB database in a temporary directory."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management


@pytest.fixture
def db(tmp_path):
    database = open_database(str(tmp_path / "db"))
    yield database
    database.close()


@pytest.fixture
def mgmt(db):
    # Cheap argon2 parameters keep the tests fast; the service insists on argon2id.
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    return Management(db, credentials=CredentialService(db, hasher=hasher))
