"""A ticket login, a history read or a revocation waiting on a stalled PostgreSQL never holds up the worker.

The node reaches PostgreSQL through the test's proxy (pgproxy.py), which
stalls: the node's requests are held back and no answer comes. While one of
these paths waits for the database, an unrelated client's call on the same
worker is answered; once the proxy lets the traffic through, the waiting
path completes as usual. The router runs with the reactor guard
(router_harness.REACTOR_FORBIDDEN): any database call on its reactor thread
fails, and none is named in its log.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import SubscribeOptions
from twisted.internet import defer

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
import pg
from router_harness import init_node, reactor_forbidden, running, wait_for
from router_wampclient import leave, login
from test_cluster_e2e import HISTORY, _principal
from test_cluster_outage import BUFFERED_MS, pg_url, proxied_node, proxy  # noqa: F401 (its fixtures too)
from test_cookie_reads_off_reactor_e2e import _cold_cookie, _reactor_sites

PROCEDURE = "com.example.bystander.off"
TOPIC = HISTORY + "off.reactor"
POOL = 8
# How the node begins a transaction that reads (a credential, history) and one that writes (a commit, a
# deletion). The node's other readers here make single reads, which begin none; its heartbeat writes.
READ = b"READ ONLY"
WRITE = b"BEGIN ISOLATION LEVEL SERIALIZABLE"


@pytest.fixture(scope="module")
def node(tmp_path_factory, pg_url, proxy):  # noqa: F811 (fixtures imported above)
    """Staged writes wait for a read (or a minute): a test knows what the node still has to commit. The node
    keeps its pool's connections open, so a request the stall holds is the query, not a new connection's."""
    def configure(config: dict) -> None:
        worker = config["workers"][0]
        worker["transports"][0]["cookie"]["store"]["flush_ms"] = BUFFERED_MS
        worker["realms"][0]["store"]["buffer-flush"] = BUFFERED_MS
        _replace(config, proxy.url(), proxy.url() + f"&pool_min={POOL}&pool_max={POOL}")

    yield from proxied_node(tmp_path_factory, pg_url, proxy, configure)


@pytest.fixture(scope="module")
def bystander(reactor_thread, node, pg_url):  # noqa: F811
    """A client with a procedure it calls itself, authorized once before any test slows the database down."""
    rt = reactor_thread
    user = _principal(pg_url, "user")
    session = rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]).session
    rt.call(session.register, lambda n: n + 1, PROCEDURE)
    assert rt.call(session.call, PROCEDURE, 1) == 2
    yield session
    rt.call(leave, session)


def _replace(node: Any, old: str, new: str) -> None:
    """Every string ``old`` in a config becomes ``new``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if value == old:
            node[key] = new
        else:
            _replace(value, old, new)


def _unknown_session(rt, session) -> None:
    """Ask for a session nobody had: a history read, which waits for every staged write to commit first."""
    with pytest.raises(ApplicationError) as raised:
        rt.call(session.call, "wamp.session.get", secrets.randbits(52))
    assert raised.value.error == ApplicationError.NO_SUCH_SESSION


def _while_stalled(rt, node, proxy, bystander, start: Any, asked: bytes) -> Any:  # noqa: F811
    """Stall the database, start the path (start() returns its Deferred), wait until the node has begun a
    transaction of the kind ``asked`` names (READ or WRITE), show the bystander answered while the path
    waits; let the database answer; the path's result."""
    waiting: dict = {}
    proxy.stall()
    try:
        rt.call(lambda: waiting.update(path=start()))
        wait_for(lambda: asked in b"".join(proxy.held), 30, "the node to begin a transaction")
        assert rt.call(bystander.call, PROCEDURE, 41) == 42
        assert not waiting["path"].called
    finally:
        proxy.restore()
    result = rt.call(lambda: waiting["path"])
    assert not any(reactor_forbidden(site) for site in _reactor_sites(node))
    return result


def test_a_bystanders_call_is_answered_while_a_ticket_login_reads_its_credential(
        reactor_thread, node, proxy, pg_url, bystander):  # noqa: F811
    rt = reactor_thread
    user = _principal(pg_url, "user")
    joined = _while_stalled(rt, node, proxy, bystander,
                            lambda: login(node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]),
                            READ)
    assert joined.details.authid == user[0] and joined.details.authmethod == "ticket"
    rt.call(leave, joined.session)


def test_a_bystanders_call_is_answered_while_a_session_is_read_from_history(
        reactor_thread, node, proxy, pg_url, bystander):  # noqa: F811
    rt = reactor_thread
    _unknown_session(rt, bystander)  # the staged writes are committed: the read goes straight to the database

    def read() -> Any:
        d = bystander.call("wamp.session.get", secrets.randbits(52))
        d.addErrback(lambda failure: failure.value)
        return d

    error = _while_stalled(rt, node, proxy, bystander, read, READ)
    assert isinstance(error, ApplicationError) and error.error == ApplicationError.NO_SUCH_SESSION


def test_a_bystanders_call_is_answered_while_event_history_waits_for_the_staged_writes(
        reactor_thread, node, proxy, bystander):  # noqa: F811
    """Event history commits the publication just made first: that commit waits, the worker does not."""
    rt = reactor_thread
    sub = rt.call(bystander.subscribe, lambda *args: None, HISTORY, options=SubscribeOptions(match="prefix"))
    payload = secrets.token_hex(8)
    rt.call(bystander.publish, TOPIC, payload)
    _unknown_session(rt, bystander)  # the node has received the publication (one connection, in order)
    rt.call(bystander.publish, TOPIC, payload + "-2")
    events = _while_stalled(rt, node, proxy, bystander,
                            lambda: bystander.call("wamp.subscription.get_events", sub.id, 100),
                            WRITE)
    assert [e["args"] for e in events if e["topic"] == TOPIC][:2] == [[payload + "-2"], [payload]]
    rt.call(sub.unsubscribe)


def test_a_bystanders_call_is_answered_while_a_revocation_deletes_cookies(
        reactor_thread, node, proxy, pg_url, bystander):  # noqa: F811
    rt = reactor_thread
    user, admin = _principal(pg_url, "user"), _principal(pg_url, "admin")
    caller = rt.call(login, node.port, authmethods=["ticket"], authid=admin[0], ticket=admin[1]).session
    cookie = _cold_cookie(pg_url, user[0])
    _unknown_session(rt, caller)  # the staged logins are committed: the deletion goes straight to the database
    result = _while_stalled(rt, node, proxy, bystander,
                            lambda: caller.call("cfxstore.cookie.revoke_by_authid", user[0]),
                            WRITE)
    assert result["authid"] == user[0] and result["cookies_deleted"] == 1
    with open_database(pg_url) as db:
        assert CookieService(db).lookup(cookie.partition("=")[2]) is None
    rt.call(leave, caller)


@pytest.fixture
def own_pg():
    yield from pg.private_url()


def test_purge_on_startup_deletes_the_stored_cookies_off_the_reactor(tmp_path, own_pg):
    """The purge runs while the transport's database is opened, in a thread: on PostgreSQL on the reactor
    it would fail there (the guard) and the node would not start."""
    open_database(own_pg).close()
    value = _cold_cookie(own_pg, "admin").partition("=")[2]

    def purge(config: dict) -> None:
        config["workers"][0]["transports"][0]["cookie"]["store"]["purge_on_startup"] = True

    n = init_node(tmp_path / "node", pg.on_postgres(own_pg), purge)
    with running(n):
        wait_for(lambda: "purge_on_startup is set: deleted 1 stored cookies" in n.log(), 30, "the purge")
        assert not any(reactor_forbidden(site) for site in _reactor_sites(n))
    with open_database(own_pg) as db:
        assert CookieService(db).lookup(value) is None


def test_on_lmdb_too_nothing_reads_or_writes_the_database_on_the_reactor(reactor_thread, tmp_path):
    """A write may wait for another process's write lock, a read for the disk: neither on the reactor."""
    rt = reactor_thread
    n = init_node(tmp_path / "node")
    with running(n):
        port = n.ports[0]
        db = str(n.cbdir / "cfxstore-db")
        user = _principal(db, "user")
        staff = _principal(db, "admin")
        caller = rt.call(login, port, authmethods=["ticket"], authid=staff[0], ticket=staff[1]).session
        _cold_cookie(db, user[0])
        _unknown_session(rt, caller)
        result = rt.call(caller.call, "cfxstore.cookie.revoke_by_authid", user[0])
        assert result["cookies_deleted"] == 1
        rt.call(leave, caller)
        sites = _reactor_sites(n)
    # The credential, the cookie, the session asked for, the revocation and every write: none named.
    assert sites == []


def test_parallel_ticket_logins_of_one_client_all_succeed_while_their_credentials_are_read_off_the_reactor(
        reactor_thread, node, pg_url):  # noqa: F811
    """A client's share of the argon2 pool, taken while another of its logins read its credential in a thread,
    makes that login wait for it, as before the read, not answer "busy"."""
    rt = reactor_thread
    users = [_principal(pg_url, "user") for _ in range(3)]

    def all_at_once() -> Any:
        return defer.gatherResults([login(node.port, authmethods=["ticket"], authid=u[0], ticket=u[1])
                                    for u in users], consumeErrors=True)

    joined = rt.call(all_at_once, timeout=60)
    assert [j.details.authid for j in joined] == [u[0] for u in users]
    for j in joined:
        rt.call(leave, j.session)
