"""Fixtures shared by the router tests."""

from __future__ import annotations

import pytest
from router_harness import ReactorThread


@pytest.fixture(scope="session")
def reactor_thread():
    rt = ReactorThread()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of the router log to a failed test's report."""
    outcome = yield
    report = outcome.get_result()
    node = item.funcargs.get("router") if hasattr(item, "funcargs") else None
    if report.failed and node is not None:
        report.sections.append(("router log (tail)", "\n".join(node.log().splitlines()[-80:])))
