"""The PostgreSQL listener says when it loses its connection and each time reconnecting fails."""

from __future__ import annotations

import queue

import pytest

import orm
import pg
from pgproxy import PgProxy


@pytest.fixture
def pg_url():
    yield from pg.private_url()


def test_the_listener_reports_a_lost_connection_and_every_failed_reconnect(pg_url):
    orm.Database(pg_url).close()  # create the schema directly, not through the proxy
    proxy = PgProxy(pg_url)
    errors: queue.Queue[BaseException] = queue.Queue()
    try:
        with orm.Database(proxy.url()) as db:
            listener = db.listen("changes", lambda payload: None, on_error=errors.put)
            try:
                assert listener.ready.wait(10), "the listener did not start listening"
                proxy.cut()
                lost = errors.get(timeout=20)
                failed_reconnect = errors.get(timeout=20)  # the outage goes on: reported again
                # Plain DatabaseErrors: what a caller treats as the database being unreachable.
                assert type(lost) is orm.DatabaseError and type(failed_reconnect) is orm.DatabaseError
                assert not listener.ready.is_set()
                proxy.restore()
                assert listener.ready.wait(20), "the listener did not listen again after the outage"
            finally:
                listener.stop()
    finally:
        proxy.close()


def test_an_idle_listener_notices_a_path_that_drops_packets(pg_url):
    orm.Database(pg_url).close()
    proxy = PgProxy(pg_url)
    errors: queue.Queue[BaseException] = queue.Queue()
    try:
        with orm.Database(proxy.url() + "&timeout=2") as db:
            listener = db.listen("changes", lambda payload: None, on_error=errors.put)
            try:
                assert listener.ready.wait(10), "the listener did not start listening"
                proxy.blackhole()  # no error, no answer: only asking tells
                # Silent for at most the timeout, then asked; the answer is due within the timeout.
                lost = errors.get(timeout=15)
                assert type(lost) is orm.DatabaseError and not listener.ready.is_set()
                proxy.restore()
                assert listener.ready.wait(20), "the listener did not listen again after the outage"
            finally:
                listener.stop()
    finally:
        proxy.close()
