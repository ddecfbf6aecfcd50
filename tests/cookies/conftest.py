"""Fixtures for the cookie tests: a service on a fresh database and a settable clock."""

from __future__ import annotations

import pytest

from cfxstore.cookies import service as service_module
from cfxstore.cookies.service import CookieService


class Clock:
    """Stands in for now_ns() so expiry is tested without sleeping."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds * 1_000_000_000


@pytest.fixture
def clock(monkeypatch):
    c = Clock(service_module.now_ns())
    monkeypatch.setattr(service_module, "now_ns", c)
    return c


@pytest.fixture
def service(db):
    return CookieService(db)
