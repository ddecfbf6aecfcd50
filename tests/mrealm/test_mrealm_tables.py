"""Every MrealmSchema table stores, reads back and lists its records."""

import pytest

from mrealm_factories import TABLES, pk
from table_contract import *  # noqa: F401,F403  (the shared table tests)


@pytest.fixture(params=sorted(TABLES))
def table(request):
    return request.param


@pytest.fixture
def factories():
    return TABLES, pk


@pytest.fixture
def schema(ms):
    return ms
