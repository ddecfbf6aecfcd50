"""Fixtures for the realm store tests."""

from __future__ import annotations

import pytest

from cfxstore.realmstore.service import SessionHistory


@pytest.fixture
def history(db):
    return SessionHistory(db)
