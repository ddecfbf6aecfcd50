"""A router node losing its PostgreSQL database: clear refusals, nothing acknowledged lost, recovery by itself.

The node reaches PostgreSQL through a TCP proxy in the test process
(pgproxy.py), which the tests cut and restore; the shared server keeps
running. Writes are committed every 60 s here (flush_ms, buffer-flush), so
what a test stages is certainly still in memory when the proxy is cut.
"""

from __future__ import annotations

import secrets
import socket

import psycopg
import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.realmstore.service import SessionHistory
from cfxstore.router.availability import STORE_UNAVAILABLE
from pgproxy import PgProxy
from router_harness import init_node, running, wait_for
from router_wampclient import Denied, leave, login
from test_cluster_e2e import PASSWORD, _principal

TOPIC = "com.example.outage"
BUFFERED_MS = 60_000


@pytest.fixture(scope="module")
def pg_url():
    yield from pg.private_url()


@pytest.fixture(scope="module")
def proxy(pg_url):
    p = PgProxy(pg_url.replace("://postgres@", f"://postgres:{PASSWORD}@"))
    yield p
    p.close()


def proxied_node(tmp_path_factory, pg_url, proxy, configure):
    """For a module fixture: a running node of the default config on pg_url through proxy, edited by configure."""
    open_database(pg_url).close()
    with running(init_node(tmp_path_factory.mktemp("node"), pg.on_postgres(proxy.url()), configure)) as n:
        yield n
    assert PASSWORD not in n.log()


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread, pg_url, proxy):
    def configure(config: dict) -> None:
        worker = config["workers"][0]
        worker["transports"][0]["cookie"]["store"]["flush_ms"] = BUFFERED_MS
        worker["realms"][0]["store"]["buffer-flush"] = BUFFERED_MS

    yield from proxied_node(tmp_path_factory, pg_url, proxy, configure)


@pytest.fixture
def user(pg_url):
    return _principal(pg_url, "user")


@pytest.fixture
def outage(proxy, node):
    """Cut the node's database connections (restored afterwards, whatever happens)."""
    try:
        yield proxy
    finally:
        proxy.restore()
        # The next test starts with the node reachable again, whatever this one left.
        wait_for(lambda: _down_count(node) == node.log().count(REACHABLE), 30, "the node to reach its database again")


UNREACHABLE = "database unreachable, refusing what needs it"
REACHABLE = "database reachable again"


def _down_count(node) -> int:
    return node.log().count(UNREACHABLE)


def _noticed(node, before: int) -> None:
    """Wait until the node has marked its database down (once more than before)."""
    wait_for(lambda: _down_count(node) > before, 10, "the node to notice the outage")


def _ticket(rt, node, user):
    return rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1])


def _cookie(rt, node, cookie):
    try:
        return rt.call(login, node.port, authmethods=["cookie"], cookie=cookie)
    except Denied as exc:
        return exc


def _call_error(rt, session, procedure, *args):
    """The WAMP error a call that must fail fails with."""
    try:
        rt.call(session.call, procedure, *args)
    except ApplicationError as exc:
        return exc
    raise AssertionError(f"{procedure} succeeded")


def _history_read(rt, session):
    """Ask the node for a session it does not know: a history read, which commits the staged writes first."""
    return _call_error(rt, session, "wamp.session.get", secrets.randbits(52))


def _store_unavailable(error, store: str) -> bool:
    """True for a WAMP abort (Denied) or error (ApplicationError) saying store is unreachable."""
    text = f"the {store} is unavailable; retry later"
    if isinstance(error, Denied):
        return error.reason == STORE_UNAVAILABLE and error.message == text
    return isinstance(error, ApplicationError) and error.error == STORE_UNAVAILABLE and error.args == (text,)


def _wait_reachable(rt, session):
    wait_for(lambda: _history_read(rt, session).error == ApplicationError.NO_SUCH_SESSION, 30,
             "the node to reach its database again", interval=0.2)


def _stored_login(pg_url, cookie):
    with open_database(pg_url) as db:
        stored = CookieService(db).lookup(cookie.partition("=")[2])
    return getattr(stored, "authid", None)


def _handshake_head(port: int, cookie: str) -> str:
    """The HTTP response head of a WebSocket opening handshake presenting cookie."""
    request = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: wamp.2.json\r\nCookie: {cookie}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.decode("latin-1").partition("\r\n\r\n")[0]


def test_without_its_database_a_node_refuses_cookie_logins_clearly_and_recovers_by_itself(
        reactor_thread, node, user, outage, pg_url):
    first = _ticket(reactor_thread, node, user)
    admin = _ticket(reactor_thread, node, _principal(pg_url, "admin"))
    sub = reactor_thread.call(first.session.subscribe, lambda *a, **kw: None, "com.example.",
                              options=SubscribeOptions(match="prefix"))
    _history_read(reactor_thread, first.session)  # commits the login: the node now has to read it
    assert _stored_login(pg_url, first.cookie) == user[0]
    down = _down_count(node)
    outage.cut()
    _noticed(node, down)  # its listening connection dropped: from now on it refuses at once
    seen = []

    def refused_login():
        seen.append(_cookie(reactor_thread, node, first.cookie))
        return seen[-1] if _store_unavailable(seen[-1], "cookie store") else None

    try:
        refused = wait_for(refused_login, 10, "the cookie login to be refused", interval=0.2)
    except AssertionError:
        raise AssertionError(f"{len(seen)} logins, the last: {seen[-1:]!r}; node log:\n{node.log()[-6000:]}") from None
    assert PASSWORD not in refused.message and "postgresql" not in refused.message
    head = _handshake_head(node.port, first.cookie)
    assert head.startswith("HTTP/1.1 101") and "set-cookie" not in head.lower()  # the cookie is kept
    with pytest.raises(Denied) as ticket:
        _ticket(reactor_thread, node, user)
    assert _store_unavailable(ticket.value, "credential store")
    # Connections opened before the outage stay open and get a clear error for what needs the database.
    assert _store_unavailable(_history_read(reactor_thread, first.session), "history store")
    assert _store_unavailable(_call_error(reactor_thread, first.session, "wamp.subscription.get_events", sub.id),
                              "history store")
    assert _store_unavailable(_call_error(reactor_thread, admin.session, "cfxstore.cookie.revoke_by_authid",
                                          user[0]), "cookie store")
    # The run's heartbeat says once that it waits for the database, without a traceback per beat.
    wait_for(lambda: "heartbeat skipped until the database answers" in node.log(), 15, "the heartbeat to notice")
    assert "heartbeat failed" not in node.log()

    outage.restore()
    wait_for(lambda: "heartbeat resumed" in node.log(), 15, "the heartbeat to resume")
    again = wait_for(lambda: (lambda r: None if isinstance(r, Denied) else r)(
        _cookie(reactor_thread, node, first.cookie)), 30, "the cookie login to work again", interval=0.2)
    assert again.details.authid == user[0] and again.details.authmethod == "cookie"  # nothing was revoked
    for result in (first, again, admin):
        reactor_thread.call(leave, result.session)


def test_writes_acknowledged_before_an_outage_are_committed_after_it(reactor_thread, node, user, outage, pg_url):
    watcher = _ticket(reactor_thread, node, user)
    _history_read(reactor_thread, watcher.session)  # commits what earlier tests staged: the next commit is 60 s away
    first = _ticket(reactor_thread, node, user)
    reactor_thread.call(first.session.publish, TOPIC, "acknowledged", options=PublishOptions(acknowledge=True))
    session_id = first.details.session
    with open_database(pg_url) as db:
        history = SessionHistory(db)
        assert history.get_session(session_id) is None and history.publications_by_topic(TOPIC) == []
    assert _stored_login(pg_url, first.cookie) is None  # all three are still in the node's memory

    outage.cut()
    wait_for(lambda: _store_unavailable(_history_read(reactor_thread, first.session), "history store"), 10,
             "the node to notice the outage", interval=0.2)
    # The node's own staged cookie is still served while the database is away.
    during = _cookie(reactor_thread, node, first.cookie)
    assert not isinstance(during, Denied) and during.details.authid == user[0]
    outage.restore()
    _wait_reachable(reactor_thread, first.session)

    assert _stored_login(pg_url, first.cookie) == user[0]
    with open_database(pg_url) as db:
        history = SessionHistory(db)
        assert history.get_session(session_id).authid == user[0]
        assert [p.args for p in history.publications_by_topic(TOPIC)] == [["acknowledged"]]
    for result in (first, during, watcher):
        reactor_thread.call(leave, result.session)


def _listening(schema: str) -> bool:
    with psycopg.connect(pg.URL, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query = %s",
                           (f'LISTEN "{schema}:cookie-deleted"',)).fetchone()
    return row[0] > 0


def test_after_an_outage_a_revocation_from_elsewhere_still_closes_the_nodes_connections(
        reactor_thread, node, user, outage, pg_url):
    schema = pg_url.rsplit("schema=", 1)[1]
    first = _ticket(reactor_thread, node, user)
    outage.cut()
    wait_for(lambda: not _listening(schema), 10, "the node's listening connection to drop", interval=0.2)
    outage.restore()
    _wait_reachable(reactor_thread, first.session)
    wait_for(lambda: _listening(schema), 30, "the node to listen again", interval=0.2)
    with open_database(pg_url) as db:  # another node: straight to the server
        assert len(CookieService(db).revoke_authid(user[0])) == 1
    reactor_thread.call(lambda: first.session.left, timeout=1.0)
    assert isinstance(_cookie(reactor_thread, node, first.cookie), Denied)


def test_a_logout_during_an_outage_refuses_the_cookie_at_once_and_deletes_it_when_the_database_is_back(
        reactor_thread, node, user, outage, pg_url):
    first, watcher = _ticket(reactor_thread, node, user), _ticket(reactor_thread, node, user)
    _history_read(reactor_thread, first.session)  # commits the login
    other = _cookie(reactor_thread, node, first.cookie)
    assert not isinstance(other, Denied)
    outage.cut()
    wait_for(lambda: _store_unavailable(_history_read(reactor_thread, first.session), "history store"), 10,
             "the node to notice the outage", interval=0.2)
    reactor_thread.call(leave, first.session, "wamp.close.logout")
    reactor_thread.call(lambda: other.session.left, timeout=5.0)  # the cookie's other connection is closed
    assert isinstance(_cookie(reactor_thread, node, first.cookie), Denied)
    assert _stored_login(pg_url, first.cookie) == user[0]  # not deleted yet: the database is away

    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(pg.URL, autocommit=True) as other_node:  # hears what every node hears
        other_node.execute(f'LISTEN "{schema}:cookie-deleted"')
        outage.restore()
        _wait_reachable(reactor_thread, watcher.session)
        assert _stored_login(pg_url, first.cookie) is None
        value_hash = CookieService.hash_value(first.cookie.partition("=")[2]).hex()
        heard = next(other_node.notifies(timeout=10, stop_after=1), None)
        assert heard is not None and heard.payload.endswith(" " + value_hash)
    assert isinstance(_cookie(reactor_thread, node, first.cookie), Denied)
    reactor_thread.call(leave, watcher.session)
