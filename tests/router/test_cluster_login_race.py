"""A principal deleted while a node still holds logins of it staged: none of its cookies survives.

Two real router nodes on one PostgreSQL schema. Node A commits staged writes
every ``FLUSH_MS`` (so logins acknowledged to clients wait in its write-behind),
clients keep logging in on A with a ticket, and meanwhile the principal is
deleted through the management service of another process (as node B's
management API or the CLI would). Logins racing the deletion are either
committed before it (and deleted with it) or staged before it and left out
when A commits them: afterwards no cookie of the principal is stored, and
none logs in on either node.
"""

from __future__ import annotations

import secrets
import threading
import uuid

import pytest
from argon2 import PasswordHasher, Type
from twisted.internet import defer

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.realmstore.service import SessionHistory
from router_harness import buffered, init_node, running, wait_for
from router_wampclient import Denied, leave, login
from test_cluster_e2e import _refused

REALM = "realm1"
FLUSH_MS = 1500


@pytest.fixture
def pg_url():
    yield from pg.private_url()


def _management(db) -> Management:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    return Management(db, credentials=CredentialService(db, hasher=hasher))


@defer.inlineCallbacks
def _log_in_until_refused(port: int, authid: str, ticket: str, started: threading.Event):
    """Ticket logins one after the other until one is refused; the cookies of the acknowledged ones."""
    cookies = []
    while True:
        try:
            result = yield login(port, authmethods=["ticket"], authid=authid, ticket=ticket)
        except Denied:
            return cookies
        cookies.append(result.cookie)
        started.set()
        yield leave(result.session)


def test_logins_staged_on_one_node_never_outlive_their_principal_deleted_meanwhile(
        tmp_path, reactor_thread, pg_url):
    open_database(pg_url).close()
    authid, ticket = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    with open_database(pg_url) as db:
        principal = _management(db).principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    a = init_node(tmp_path / "a", pg.on_postgres(pg_url), buffered(FLUSH_MS))
    b = init_node(tmp_path / "b", pg.on_postgres(pg_url))
    with running(a), running(b):
        started, deleted = threading.Event(), threading.Event()

        def delete() -> None:
            started.wait(30)
            with open_database(pg_url) as db:
                _management(db).principals.delete(principal.oid)
            deleted.set()

        deleting = threading.Thread(target=delete)
        deleting.start()
        cookies = reactor_thread.call(_log_in_until_refused, a.port, authid, ticket, started, timeout=120)
        deleting.join(60)
        assert deleted.is_set() and cookies
        with open_database(pg_url) as db:
            history = SessionHistory(db)
            # A's batches are committed once the sessions of every acknowledged login are in the history.
            wait_for(lambda: len(history.sessions_by_authid(authid)) >= len(cookies), 30,
                     "node a to commit the logins it staged")
            stored = CookieService(db).cookies_by_authid(authid)
        assert stored == []
        for node in (a, b):
            assert all(_refused(reactor_thread, node.port, c) for c in cookies), f"node {node.port}"
