"""Two real router nodes (separate processes, separate ports) on one PostgreSQL database."""

from __future__ import annotations

import dataclasses
import secrets
import uuid

import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

import pg
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.realmstore.rules import UriRule, history_id
from cfxstore.realmstore.service import SessionHistory
from router_harness import init_node, run_cli, running, wait_for
from router_wampclient import Denied, leave, login

REALM = "realm1"
PASSWORD = "n0t-in-any-log"
HISTORY = "com.example."  # the event-history rule `router init` writes (prefix match)
# A rule of its own limit inside HISTORY's: the publications stay (HISTORY keeps them), its deliveries go.
LIMITED = UriRule("com.example.limited.", "prefix", limit=4)


def _with_limited_rule(config: dict) -> None:
    store = config["workers"][0]["realms"][0]["store"]
    store["event-history"].append(dataclasses.asdict(LIMITED))
    store["retention"]["interval"] = 1  # every rule's limit is applied every second, too


@pytest.fixture(scope="module")
def pg_url():
    reason = pg.unreachable()
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:24]
    # Trust authentication ignores the password: it is there to prove it never reaches a log.
    yield pg.url_for(schema).replace("://postgres@", f"://postgres:{PASSWORD}@")
    pg.drop_schemas({schema})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, reactor_thread, pg_url):
    open_database(pg_url).close()
    nodes = []
    for name in ("a", "b"):
        cbdir = tmp_path_factory.mktemp(f"node-{name}")
        nodes.append(init_node(cbdir, pg.on_postgres(pg_url), _with_limited_rule))
    with running(nodes[0]), running(nodes[1]):
        yield nodes


def _principal(url: str, role: str) -> tuple[str, str]:
    authid, ticket = f"{role}-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    with open_database(url) as db:
        creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                            type=Type.ID))
        Management(db, credentials=creds).principals.create(realm=REALM, authid=authid, role=role, ticket=ticket)
    return authid, ticket


@pytest.fixture
def user(pg_url):
    return _principal(pg_url, "user")


@pytest.fixture
def admin(pg_url):
    return _principal(pg_url, "admin")


def test_a_cookie_issued_by_one_node_logs_in_on_the_other(reactor_thread, cluster, user):
    a, b = cluster
    first = reactor_thread.call(login, a.port, authmethods=["ticket"], authid=user[0], ticket=user[1])
    assert first.cookie

    def on_b():
        try:
            return reactor_thread.call(login, b.port, authmethods=["cookie"], cookie=first.cookie)
        except Denied:
            return None

    second = wait_for(on_b, 10, "node b accepting node a's cookie")
    assert second.details.authmethod == "cookie" and second.details.authid == user[0]
    for result in (first, second):
        reactor_thread.call(leave, result.session)


def _cookie_on_both(rt, a, b, user):
    first = rt.call(login, a.port, authmethods=["ticket"], authid=user[0], ticket=user[1])

    def on_b():
        try:
            return rt.call(login, b.port, authmethods=["cookie"], cookie=first.cookie)
        except Denied:
            return None

    return first, wait_for(on_b, 10, "node b accepting node a's cookie")


def _refused(rt, port, cookie) -> bool:
    try:
        result = rt.call(login, port, authmethods=["cookie"], cookie=cookie)
    except Denied:
        return True
    rt.call(leave, result.session)
    return False


def test_cli_revocation_closes_the_cookies_connections_on_every_node_within_a_second(
        reactor_thread, cluster, user, pg_url):
    a, b = cluster
    first, second = _cookie_on_both(reactor_thread, a, b, user)
    value = first.cookie.partition("=")[2]
    with open_database(pg_url) as db:
        from cfxstore.cookies.service import CookieService
        stored = CookieService(db)
        wait_for(lambda: getattr(stored.lookup(value), "authid", None), 5, "the login to be committed")
    out = run_cli("router", "revoke", "--cbdir", str(a.cbdir), user[0])
    assert out.returncode == 0, out.stderr
    reactor_thread.call(lambda: second.session.left, timeout=1.0)  # node b closed it: pushed, not polled
    reactor_thread.call(lambda: first.session.left, timeout=1.0)
    assert _refused(reactor_thread, a.port, first.cookie) and _refused(reactor_thread, b.port, first.cookie)


def test_logout_on_one_node_refuses_the_cookie_on_the_other(reactor_thread, cluster, user):
    a, b = cluster
    first, second = _cookie_on_both(reactor_thread, a, b, user)
    reactor_thread.call(leave, first.session)
    reactor_thread.call(leave, second.session, "wamp.close.logout")
    # Each try is a whole WebSocket login: under a loaded machine a few of them take a second.
    wait_for(lambda: _refused(reactor_thread, a.port, first.cookie), 5.0, "node a refusing the logged-out cookie",
             interval=0.1)


def test_the_database_password_never_appears_in_a_node_log(cluster):
    for node in cluster:
        log = node.log()
        assert "cfxstore cookie store active" in log and PASSWORD not in log


def test_the_revocation_procedure_on_one_node_closes_the_cookies_connections_on_the_other_within_a_second(
        reactor_thread, cluster, user, admin):
    a, b = cluster
    first, second = _cookie_on_both(reactor_thread, a, b, user)
    caller = reactor_thread.call(login, a.port, authmethods=["ticket"], authid=admin[0], ticket=admin[1]).session
    result = reactor_thread.call(caller.call, "cfxstore.cookie.revoke_by_authid", user[0])
    # Node a deleted the cookie and closed its own connection; node b hears of it from PostgreSQL.
    assert result["cookies_deleted"] == 1 and result["connections_closed"] == 1
    reactor_thread.call(lambda: second.session.left, timeout=1.0)
    reactor_thread.call(lambda: first.session.left, timeout=1.0)
    assert _refused(reactor_thread, a.port, first.cookie) and _refused(reactor_thread, b.port, first.cookie)
    reactor_thread.call(leave, caller)


def _ticket(rt, node, principal):
    return rt.call(login, node.port, authmethods=["ticket"], authid=principal[0], ticket=principal[1])


def test_either_node_returns_the_sessions_both_nodes_recorded(reactor_thread, cluster, user, admin):
    a, b = cluster
    on_a, on_b = _ticket(reactor_thread, a, user), _ticket(reactor_thread, b, user)
    reactor_thread.call(leave, on_b.session)  # one left, one still joined (on the other node)
    for node in (a, b):
        caller = _ticket(reactor_thread, node, admin).session
        for joined, left in ((on_a, False), (on_b, True)):
            sid = joined.details.session

            def recorded():
                info = reactor_thread.call(caller.call, "wamp.session.get", sid)
                return info if (info.get("left_at") is not None) == left else None

            info = wait_for(recorded, 10, f"session {sid} as recorded, asked on node {node.port}", interval=0.1)
            assert info["session"] == sid and info["authid"] == user[0] and info["authrole"] == "user"
        reactor_thread.call(leave, caller)
    reactor_thread.call(leave, on_a.session)


def test_either_node_returns_the_events_both_nodes_recorded(reactor_thread, cluster, user):
    a, b = cluster
    topic = f"{HISTORY}cluster.{uuid.uuid4().hex[:8]}"
    marks = {}
    for node in (a, b):
        publisher = _ticket(reactor_thread, node, user).session
        marks[node.port] = f"from {node.port}"
        reactor_thread.call(publisher.publish, topic, marks[node.port], options=PublishOptions(acknowledge=True))
        reactor_thread.call(leave, publisher)
    for node in (a, b):
        reader = _ticket(reactor_thread, node, user).session
        sub = reactor_thread.call(reader.subscribe, lambda *a, **kw: None, HISTORY,
                                  options=SubscribeOptions(match="prefix"))

        def both():
            events = reactor_thread.call(reader.call, "wamp.subscription.get_events", sub.id, 1000)
            mine = [e for e in events if e["topic"] == topic]
            return mine if {e["args"][0] for e in mine} == set(marks.values()) else None

        events = wait_for(both, 10, f"both nodes' events, read on node {node.port}", interval=0.1)
        # Newest first; every entry names the subscription it was read through, on this node.
        assert [e["args"][0] for e in events] == [marks[b.port], marks[a.port]]
        assert {e["subscription"] for e in events} == {sub.id} and {e["realm"] for e in events} == {REALM}
        assert {e["authid"] for e in events} == {user[0]}
        reactor_thread.call(leave, reader)


def test_nodes_recording_one_rule_at_once_leave_it_its_limit_of_events(reactor_thread, cluster, user, pg_url):
    topic = f"{LIMITED.uri}{uuid.uuid4().hex[:8]}"
    publishers = [_ticket(reactor_thread, node, user).session for node in cluster]
    # Both nodes record the rule at once: no publication waits for another.
    reactor_thread.call(lambda: defer.gatherResults(
        [p.publish(topic, i, options=PublishOptions(acknowledge=True)) for i in range(15) for p in publishers]))
    readers = []
    for node in cluster:
        reader = _ticket(reactor_thread, node, user).session
        subs = [reactor_thread.call(reader.subscribe, lambda *a, **kw: None, uri, options=SubscribeOptions(
            match="prefix")) for uri in (LIMITED.uri, HISTORY)]
        readers.append((reader, *subs))

    def agreed():
        """The newest four of the topic, as HISTORY (which keeps all 30) orders them, read from both nodes'
        LIMITED subscriptions and held in the database, nothing more (once both nodes committed all 30)."""
        reads = []
        for reader, limited, broad in readers:
            everything = reactor_thread.call(reader.call, "wamp.subscription.get_events", broad.id, 1000)
            newest = [e["publication"] for e in everything if e["topic"] == topic]
            if len(newest) < 30:
                return False
            limited_read = reactor_thread.call(reader.call, "wamp.subscription.get_events", limited.id, 100)
            reads.append(([e["publication"] for e in limited_read], newest[:4]))
        with open_database(pg_url) as db:
            history = SessionHistory(db)
            held = list(dict.fromkeys(e.publication_id for e in history.events(history_id(LIMITED))))
        return reads[0][0] == reads[0][1] == reads[1][0] == reads[1][1] == held

    wait_for(agreed, 15, "both nodes and the database to agree on the rule's last four events", interval=0.2)
    for session in publishers + [r[0] for r in readers]:
        reactor_thread.call(leave, session)


def _committed(pg_url, cookie) -> None:
    from cfxstore.cookies.service import CookieService
    value = cookie.partition("=")[2]
    with open_database(pg_url) as db:
        stored = CookieService(db)
        wait_for(lambda: getattr(stored.lookup(value), "authid", None), 10, "the login to be committed")


def test_a_principals_role_change_closes_its_cookies_connections_on_every_node(reactor_thread, cluster, user,
                                                                               pg_url):
    a, b = cluster
    first, second = _cookie_on_both(reactor_thread, a, b, user)
    _committed(pg_url, first.cookie)
    with open_database(pg_url) as db:
        mgmt = Management(db)
        mgmt.principals.update(mgmt.credentials.get_principal(REALM, user[0]).oid, role="admin")
    reactor_thread.call(lambda: second.session.left, timeout=10)  # heard by NOTIFY
    reactor_thread.call(lambda: first.session.left, timeout=10)
    assert _refused(reactor_thread, a.port, first.cookie) and _refused(reactor_thread, b.port, first.cookie)


def test_a_kill_with_the_logout_reason_on_one_node_closes_the_cookies_connection_on_the_other(
        reactor_thread, cluster, user, admin):
    a, b = cluster
    first, second = _cookie_on_both(reactor_thread, a, b, user)
    killer = _ticket(reactor_thread, a, admin)
    reactor_thread.call(killer.session.call, "wamp.session.kill", first.details.session, reason="wamp.close.logout")
    reactor_thread.call(lambda: second.session.left, timeout=10)
    assert _refused(reactor_thread, b.port, first.cookie)
    reactor_thread.call(leave, killer.session)
