"""End to end: anonymous cookies are never stored, and a login binds only the cookie issued on its connection.

A real router (LMDB) and raw WebSocket handshakes: the attacker's handshake
gets a cookie value and keeps its connection open (so the value is live in
the router's memory) while the victim presents that value and logs in.
"""

from __future__ import annotations

import secrets
import uuid

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import init_node, running, wait_for
from router_harness import websocket_handshake as handshake
from router_wampclient import Denied, leave, login

DB = "cfxstore-db"


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    with running(init_node(tmp_path_factory.mktemp("node"))) as node:
        yield node


@pytest.fixture(scope="module")
def node_db(router):
    db = open_database(str(router.cbdir / DB))
    yield db
    db.close()


@pytest.fixture
def user(node_db):
    authid = f"user-{uuid.uuid4().hex[:8]}"
    ticket = secrets.token_urlsafe(16)
    Management(node_db).principals.create(realm="realm1", authid=authid, role="user", ticket=ticket, generated=True)
    return authid, ticket


def stored_cookies(db) -> int:
    service = CookieService(db)
    with db.begin() as txn:
        return sum(1 for _ in service.schema.cookies.select(txn, return_keys=False))


def ticket_login(rt, port, authid, ticket, cookie=None):
    return rt.call(login, port, authmethods=["ticket"], authid=authid, ticket=ticket, cookie=cookie)


def cookie_authid(rt, port, cookie) -> str | None:
    try:
        result = rt.call(login, port, authmethods=["cookie"], cookie=cookie)
    except Denied:
        return None
    rt.call(leave, result.session)
    return result.details.authid


def test_handshakes_without_a_login_store_nothing(reactor_thread, router, node_db, user):
    before = stored_cookies(node_db)
    for _ in range(20):
        with handshake(router.port) as cookie:
            assert cookie is not None
    # A login staged after them: once it is committed, anything staged before it would be too.
    logged = ticket_login(reactor_thread, router.port, *user)
    value = logged.cookie.partition("=")[2]
    wait_for(lambda: CookieService(node_db).lookup(value) is not None, 10, "the login to be committed")
    assert stored_cookies(node_db) == before + 1
    reactor_thread.call(leave, logged.session)


def test_a_planted_anonymous_cookie_is_replaced_and_never_becomes_a_login(reactor_thread, router, user):
    with handshake(router.port) as planted:       # the attacker's connection stays open meanwhile
        victim = ticket_login(reactor_thread, router.port, *user, cookie=planted)
        assert victim.cookie is not None and victim.cookie != planted
        assert cookie_authid(reactor_thread, router.port, planted) is None
        assert cookie_authid(reactor_thread, router.port, victim.cookie) == user[0]
        reactor_thread.call(leave, victim.session)


def test_an_unknown_cookie_value_is_replaced(reactor_thread, router, user):
    made_up = "cbtid=" + secrets.token_urlsafe(24)
    victim = ticket_login(reactor_thread, router.port, *user, cookie=made_up)
    assert victim.cookie is not None and victim.cookie != made_up
    assert cookie_authid(reactor_thread, router.port, made_up) is None
    reactor_thread.call(leave, victim.session)


def test_a_login_does_not_take_over_another_principals_logged_in_cookie(reactor_thread, router, node_db, user):
    mallory = f"mallory-{uuid.uuid4().hex[:8]}"
    Management(node_db).principals.create(realm="realm1", authid=mallory, role="user", ticket="mallorys-ticket")
    attacker = ticket_login(reactor_thread, router.port, mallory, "mallorys-ticket")
    reactor_thread.call(leave, attacker.session)
    victim = ticket_login(reactor_thread, router.port, *user, cookie=attacker.cookie)
    assert victim.details.authid == user[0]
    reactor_thread.call(leave, victim.session)
    assert cookie_authid(reactor_thread, router.port, attacker.cookie) == mallory
