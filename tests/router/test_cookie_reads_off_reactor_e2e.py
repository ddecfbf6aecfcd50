"""A cold cookie login waiting on a slow PostgreSQL never holds up the rest of the worker.

The node reaches PostgreSQL through the test's proxy (pgproxy.py). The
router runs with the reactor guard (router_harness.REACTOR_FORBIDDEN): any
database call on the reactor thread would fail, and every database call made
there is named in the node's log.
"""

from __future__ import annotations

import pytest
from twisted.internet import defer

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.router.reactorguard import REPORT
from router_harness import init_node, reactor_forbidden, running, wait_for
from router_wampclient import leave, login
from test_cluster_e2e import _principal
from test_cluster_outage import pg_url, proxy  # noqa: F401 (the same fixtures: a private schema, a proxy to it)

PROCEDURE = "com.example.bystander"


def _node(tmp_path_factory, path: str):
    with running(init_node(tmp_path_factory.mktemp("node"), pg.on_postgres(path))) as n:
        yield n


@pytest.fixture(scope="module")
def node(tmp_path_factory, pg_url, proxy):
    open_database(pg_url).close()
    # Connections kept open: a read that needed a new one while the proxy stalls would never be sent
    # (its handshake is held too), and the test could not see the node ask for the cookie.
    yield from _node(tmp_path_factory, proxy.url() + "&pool_min=4")


def _cold_cookie(url: str, authid: str) -> str:
    """A logged-in cookie the node has never seen (stored by its owner service, as another node would)."""
    with open_database(url) as db:
        service = CookieService(db)
        value, cookie = service.new()
        cookie = service.login(cookie, authid=authid, authrole="user", authmethod="ticket", authextra=None,
                               authrealm="realm1")
        service.transact(lambda txn: service.put(txn, [cookie]))
    return f"cbtid={value}"


def _reactor_sites(node) -> list[str]:
    return [line.split(REPORT, 1)[1].strip() for line in node.log().splitlines() if REPORT in line]


def test_a_bystanders_rpc_is_answered_while_a_cold_cookie_login_waits_for_the_database(
        reactor_thread, node, proxy, pg_url):
    rt = reactor_thread
    user = _principal(pg_url, "user")
    bystander = rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]).session
    rt.call(bystander.register, lambda n: n + 1, PROCEDURE)
    assert rt.call(bystander.call, PROCEDURE, 1) == 2  # authorized once, before the database slows down
    cookie = _cold_cookie(pg_url, user[0])
    key = CookieService.hash_value(cookie.partition("=")[2])
    waiting: dict = {}
    proxy.stall()
    try:
        rt.call(lambda: waiting.update(login=login(node.port, authmethods=["cookie"], cookie=cookie)))
        # The node has asked the database for this cookie, and gets no answer while the proxy holds it.
        # psycopg sends the hash as binary or, in older versions, as bytea hex text.
        forms = (key, key.hex().encode())
        wait_for(lambda: any(form in chunk for chunk in proxy.held for form in forms), 30,
                 "the node to ask for the cookie")
        assert rt.call(bystander.call, PROCEDURE, 41) == 42
        assert not waiting["login"].called
    finally:
        proxy.restore()
    joined = rt.call(lambda: waiting["login"])
    assert joined.details.authid == user[0] and joined.details.authmethod == "cookie"
    rt.call(leave, joined.session)
    rt.call(leave, bystander)
    assert not any(reactor_forbidden(site) for site in _reactor_sites(node))


def test_at_a_network_distance_cold_cookie_logins_and_a_bystanders_calls_all_succeed(reactor_thread, node, proxy, pg_url):
    """At a real network distance, cold cookie logins and a bystander's calls interleave and all succeed."""
    rt = reactor_thread
    user = _principal(pg_url, "user")
    bystander = rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]).session
    rt.call(bystander.register, lambda n: n + 1, PROCEDURE + ".latency")
    cookies = [_cold_cookie(pg_url, user[0]) for _ in range(8)]
    proxy.latency = 0.02
    try:
        def both():
            logins = [login(node.port, authmethods=["cookie"], cookie=c) for c in cookies]
            calls = [bystander.call(PROCEDURE + ".latency", n) for n in range(8)]
            return defer.gatherResults(logins + calls, consumeErrors=True)

        results = rt.call(both, timeout=60)
    finally:
        proxy.latency = 0.0
    assert [j.details.authid for j in results[:8]] == [user[0]] * 8
    assert results[8:] == list(range(1, 9))
    for j in results[:8]:
        rt.call(leave, j.session)
    rt.call(leave, bystander)


def test_on_lmdb_a_cold_cookie_is_read_off_the_reactor_too(reactor_thread, tmp_path_factory):
    """A local read may wait for the disk: it is made in the read threads as on PostgreSQL."""
    rt = reactor_thread
    for n in _node(tmp_path_factory, "cfxstore-db"):
        cookie = _cold_cookie(str(n.cbdir / "cfxstore-db"), "admin")
        joined = rt.call(login, n.port, authmethods=["cookie"], cookie=cookie)
        assert joined.details.authid == "admin" and joined.details.authmethod == "cookie"
        rt.call(leave, joined.session)
        assert _reactor_sites(n) == []
