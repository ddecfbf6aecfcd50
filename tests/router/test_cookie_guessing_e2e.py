"""Guessing short cookie values: a real router, Autobahn clients from two loopback addresses.

Stock Crossbar cookies imported with their values can be 6 characters (36 bits). Connections presenting
short values that no cookie has count against their client address; once it is locked, that address's
short values are not looked up at all.
"""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from router_harness import init_node, running
from router_wampclient import Denied, leave, login

SHORT = "Ab3dE6"                               # a stock value of the shortest length Crossbar allowed
ATTACKER, USER = "127.0.0.5", "127.0.0.6"


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    def configure(config: dict) -> None:
        config["workers"][0]["transports"][0]["cookie"]["store"]["guess_free_failures"] = 3

    with running(init_node(tmp_path_factory.mktemp("guessnode"), configure)) as node:
        db = open_database(str(node.cbdir / "cfxstore-db"))
        try:
            service = CookieService(db)
            _, cookie = service.new(max_age=3600)
            cookie = service.login(dataclasses.replace(cookie, value_hash=CookieService.hash_value(SHORT)),
                                   authid="shorty", authrole="user", authmethod="ticket", authextra=None,
                                   authrealm="realm1")
            with db.begin(write=True) as txn:
                service.put(txn, [cookie])
        finally:
            db.close()
        yield node


def cookie_login(rt, router, value, bind):
    return rt.call(login, router.port, authmethods=["cookie"], cookie=f"cbtid={value}", bind=bind)


def refused(rt, router, value, bind) -> bool:
    try:
        rt.call(leave, cookie_login(rt, router, value, bind).session)
    except Denied:
        return True
    return False


def test_a_client_guessing_short_values_is_locked_out_of_them_and_no_one_else(reactor_thread, router):
    result = cookie_login(reactor_thread, router, SHORT, USER)
    assert result.details.authid == "shorty"
    reactor_thread.call(leave, result.session)
    for guess in ("Zz9yX1", "Zz9yX2", "Zz9yX3"):           # three short values no cookie has
        assert refused(reactor_thread, router, guess, ATTACKER)
    # The guesser's short values are not looked up now: not even the right one logs in (before: it did).
    assert refused(reactor_thread, router, SHORT, ATTACKER)
    # Full-length values no cookie has (expired, never stored) are never counted against their client ...
    for _ in range(5):
        assert refused(reactor_thread, router, secrets.token_urlsafe(16), USER)
    # ... and another client's short cookie works as before.
    result = cookie_login(reactor_thread, router, SHORT, USER)
    assert result.details.authid == "shorty"
    reactor_thread.call(leave, result.session)
