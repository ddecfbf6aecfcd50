"""The PostgreSQL listener says when it loses its connection and each time reconnecting fails."""

from __future__ import annotations

import contextlib
import queue
from typing import Iterator

import pytest

import orm
import pg
from pgproxy import PgProxy


@pytest.fixture
def pg_url():
    yield from pg.private_url()


@contextlib.contextmanager
def listening(pg_url: str, options: str = "") -> Iterator[tuple[PgProxy, queue.Queue[BaseException]]]:
    """A listener on the database through a proxy, listening; yields the proxy and the errors it reports.
    When the body is done, the proxy is restored and the listener must listen again."""
    orm.Database(pg_url).close()  # create the schema directly, not through the proxy
    proxy = PgProxy(pg_url)
    errors: queue.Queue[BaseException] = queue.Queue()
    try:
        with orm.Database(proxy.url() + options) as db:
            listener = db.listen("changes", lambda payload: None, on_error=errors.put)
            try:
                assert listener.ready.wait(10), "the listener did not start listening"
                yield proxy, errors
                assert not listener.ready.is_set()
                proxy.restore()
                assert listener.ready.wait(20), "the listener did not listen again after the outage"
            finally:
                listener.stop()
    finally:
        proxy.close()


def test_the_listener_reports_a_lost_connection_and_every_failed_reconnect(pg_url):
    with listening(pg_url) as (proxy, errors):
        proxy.cut()
        lost = errors.get(timeout=20)
        failed_reconnect = errors.get(timeout=20)  # the outage goes on: reported again
        # Plain DatabaseErrors: what a caller treats as the database being unreachable.
        assert type(lost) is orm.DatabaseError and type(failed_reconnect) is orm.DatabaseError


def test_an_idle_listener_notices_a_path_that_drops_packets(pg_url):
    with listening(pg_url, "&timeout=2") as (proxy, errors):
        proxy.blackhole()  # no error, no answer: only asking tells
        # Silent for at most the timeout, then asked; the answer is due within the timeout.
        assert type(errors.get(timeout=15)) is orm.DatabaseError
