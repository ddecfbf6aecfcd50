"""End to end: a real router process (cfxstore router start) and real Autobahn clients.

One router is started for the module (and restarted once by the restart
test); every test uses its own authids so tests do not depend on each other.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import uuid

import pytest
from argon2 import PasswordHasher, Type
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.realmstore.rules import UriRule, history_id
from cfxstore.realmstore.service import SessionHistory
from router_harness import RouterProcess, edit_config, free_port, run_cli, running, wait_for
from router_wampclient import Denied, leave, login

REALM = "realm1"
HISTORY_TOPIC = "com.example.history"
# Event-history rules with a limit of their own, on topics no other rule matches.
LIMITED = UriRule("org.example.limited", "exact", limit=3)
SWEPT = UriRule("org.example.swept", "exact", limit=20)
SHORT_MAX_AGE = 2


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    cbdir = tmp_path_factory.mktemp("node")
    port, short_port, web_port = free_port(), free_port(), free_port()
    result = run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port))
    assert result.returncode == 0, result.stderr

    def configure(config: dict) -> None:
        worker = config["workers"][0]
        store = worker["realms"][0]["store"]
        store["event-history"].append({"uri": HISTORY_TOPIC, "match": "exact"})
        store["event-history"] += [dataclasses.asdict(rule) for rule in (LIMITED, SWEPT)]
        store["retention"]["interval"] = 1  # every rule's limit is applied every second, too
        # The realm store alone would flush only on demand; it shares the cookie stores' writer,
        # whose shorter flush_ms wins (the restart test checks that history survives a clean stop).
        store["buffer-flush"] = 60000
        # A second transport on the same database whose cookies expire quickly.
        short = dict(worker["transports"][0])
        short["endpoint"] = {**short["endpoint"], "port": short_port}
        short["cookie"] = {**short["cookie"], "max_age": SHORT_MAX_AGE}
        worker["transports"].append(short)
        # A Web transport serving WAMP on the path /ws, with the same cookie store.
        worker["transports"].append({
            "type": "web", "endpoint": {**short["endpoint"], "port": web_port},
            "paths": {"ws": {"type": "websocket", "cookie": worker["transports"][0]["cookie"],
                             "auth": worker["transports"][0]["auth"]}},
        })

    edit_config(cbdir, configure)
    node = RouterProcess(cbdir, [port, short_port, web_port])
    node.port, node.short_port, node.web_port = port, short_port, web_port
    with running(node):
        yield node


@pytest.fixture(scope="module")
def node_db(router):
    """The router's database, opened from the test process (LMDB allows several processes)."""
    db = open_database(str(router.cbdir / "cfxstore-db"))
    yield db
    db.close()


@pytest.fixture(scope="module")
def credentials(node_db):
    # Cheap argon2 parameters keep the test fast; the router verifies any argon2id hash.
    return CredentialService(node_db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                            type=Type.ID))


@pytest.fixture(scope="module")
def principals(node_db, credentials):
    return Management(node_db, credentials=credentials).principals


@pytest.fixture(scope="module")
def stored_cookies(node_db):
    return CookieService(node_db)


@pytest.fixture
def user(principals):
    """A fresh principal (authid, ticket) with role "user"."""
    authid = f"user-{uuid.uuid4().hex[:8]}"
    ticket = secrets.token_urlsafe(16)
    principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    return authid, ticket


def ticket_login(rt, port, authid, ticket):
    return rt.call(login, port, authmethods=["ticket"], authid=authid, ticket=ticket)


def cookie_login(rt, port, cookie):
    return rt.call(login, port, authmethods=["cookie"], cookie=cookie)


def admin(rt, router):
    return ticket_login(rt, router.port, "admin", router.admin_ticket()).session


def refused(rt, port, cookie) -> bool:
    try:
        result = cookie_login(rt, port, cookie)
    except Denied:
        return True
    rt.call(leave, result.session)
    return False


# --- cookies ---

def test_ticket_login_sets_a_cookie(reactor_thread, router, user):
    result = ticket_login(reactor_thread, router.port, *user)
    assert result.details.authmethod == "ticket"
    assert result.details.authid == user[0]
    name, _, value = result.cookie.partition("=")
    assert name == "cbtid" and len(value) >= 22  # >= 128 random bits
    assert "HttpOnly" in result.set_cookie
    reactor_thread.call(leave, result.session)


def test_per_connection_cookie_lines_stay_out_of_the_info_log(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    second = cookie_login(reactor_thread, router.port, first.cookie)
    for result in (first, second):
        reactor_thread.call(leave, result.session)
    # The sessions' own lines reach the log; Crossbar's cookie chatter per connection does not.
    wait_for(lambda: router.log().count(f'authid="{user[0]}"') >= 2, 10, "the logins to be logged")
    lines = [line for line in router.log().splitlines() if "cookie" in line and "onConnect" in line]
    assert lines == []


def test_cookie_authenticates_a_new_connection_without_ticket(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    second = cookie_login(reactor_thread, router.port, first.cookie)
    assert second.details.authmethod == "cookie"
    assert second.details.authid == user[0]
    assert second.details.authrole == "user"
    assert second.set_cookie is None  # the known cookie is kept, not replaced
    for result in (first, second):
        reactor_thread.call(leave, result.session)


def test_cookie_and_history_survive_a_clean_restart(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    subscription = reactor_thread.call(first.session.subscribe, lambda *a, **kw: None, HISTORY_TOPIC)
    reactor_thread.call(first.session.publish, HISTORY_TOPIC, "before restart",
                        options=PublishOptions(acknowledge=True))
    session_id = first.details.session
    reactor_thread.call(leave, first.session)
    router.restart()

    again = cookie_login(reactor_thread, router.port, first.cookie)
    assert again.details.authid == user[0]
    assert again.details.authmethod == "cookie"
    admin_session = admin(reactor_thread, router)
    info = reactor_thread.call(admin_session.call, "wamp.session.get", session_id)
    assert info["left_at"] is not None
    # Crossbar numbers subscriptions anew on every start; the history is found under the new id.
    sub = reactor_thread.call(again.session.subscribe, lambda *a, **kw: None, HISTORY_TOPIC)
    assert sub.id != subscription.id
    events = reactor_thread.call(again.session.call, "wamp.subscription.get_events", sub.id, 100)
    assert "before restart" in [e["args"][0] for e in events]
    for session in (again.session, admin_session):
        reactor_thread.call(leave, session)


def test_web_transport_websocket_path_uses_the_same_cookies(reactor_thread, router, user):
    first = reactor_thread.call(login, router.web_port, path="ws", authmethods=["ticket"], authid=user[0],
                                ticket=user[1])
    assert first.cookie
    # Cookies are shared by every transport on the same database.
    second = cookie_login(reactor_thread, router.port, first.cookie)
    assert second.details.authmethod == "cookie" and second.details.authid == user[0]
    for result in (first, second):
        reactor_thread.call(leave, result.session)


def test_expired_cookie_is_refused(reactor_thread, router, user):
    before_issue = time.monotonic()
    first = ticket_login(reactor_thread, router.short_port, *user)
    reactor_thread.call(leave, first.session)
    assert not refused(reactor_thread, router.short_port, first.cookie)
    wait_for(lambda: refused(reactor_thread, router.short_port, first.cookie), 10, "the cookie to expire",
             interval=0.2)
    assert time.monotonic() - before_issue >= SHORT_MAX_AGE


def test_made_up_cookie_is_refused(reactor_thread, router):
    with pytest.raises(Denied):
        cookie_login(reactor_thread, router.port, f"cbtid={secrets.token_urlsafe(24)}")


def test_malformed_cookie_header_is_ignored(reactor_thread, router, user):
    with pytest.raises(Denied) as e:
        cookie_login(reactor_thread, router.port, 'cbtid="; ;=;cbtid=;;;a=b==c;cbtid=%%%')
    # The header reached the cookie store, which ignored it: a WAMP-level refusal, not a dropped handshake.
    assert e.value.reason != "handshake"
    result = ticket_login(reactor_thread, router.port, *user)
    reactor_thread.call(leave, result.session)


def test_cookie_header_with_control_characters_is_refused_promptly(reactor_thread, router, user):
    # Newer autobahn refuses such a header in the HTTP layer, older ones hand it to the cookie
    # store; either way the client hears a refusal before the deadline instead of waiting it out.
    with pytest.raises(Denied):
        reactor_thread.call(login, router.port, authmethods=["cookie"], cookie='cbtid=\x7f\x01;a=b', timeout=10)
    # The router is unharmed: a normal login still works.
    result = ticket_login(reactor_thread, router.port, *user)
    reactor_thread.call(leave, result.session)


def test_logout_deletes_the_cookie(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    reactor_thread.call(leave, first.session, "wamp.close.logout")
    assert refused(reactor_thread, router.port, first.cookie)


def test_router_procedure_revokes_cookies_and_closes_their_connections(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    via_cookie = cookie_login(reactor_thread, router.port, first.cookie)
    admin_session = admin(reactor_thread, router)
    result = reactor_thread.call(admin_session.call, "cfxstore.cookie.revoke_by_authid", user[0])
    assert result["cookies_deleted"] == 1
    assert result["connections_closed"] == 2
    reactor_thread.call(lambda: via_cookie.session.left, timeout=10)
    reactor_thread.call(lambda: first.session.left, timeout=10)
    assert refused(reactor_thread, router.port, first.cookie)
    reactor_thread.call(leave, admin_session)


def test_revocation_procedure_refuses_other_roles(reactor_thread, router, user):
    result = ticket_login(reactor_thread, router.port, *user)
    with pytest.raises(ApplicationError) as e:
        reactor_thread.call(result.session.call, "cfxstore.cookie.revoke_by_authid", user[0])
    assert e.value.error == ApplicationError.NOT_AUTHORIZED
    reactor_thread.call(leave, result.session)


def test_cli_revoke_deletes_the_cookies(reactor_thread, router, user, stored_cookies):
    first = ticket_login(reactor_thread, router.port, *user)
    reactor_thread.call(leave, first.session)
    value = first.cookie.partition("=")[2]
    # Logins are committed in batches (flush_ms): wait until this one is in the database.
    wait_for(lambda: getattr(stored_cookies.lookup(value), "authid", None), 5, "the login to be committed")
    out = run_cli("router", "revoke", "--cbdir", str(router.cbdir), user[0])
    assert out.returncode == 0, out.stderr
    assert "deleted 1 cookie" in out.stdout
    # A running router notices within its cookie cache time (1 s by default).
    wait_for(lambda: refused(reactor_thread, router.port, first.cookie), 5, "the revoked cookie to be refused",
             interval=0.2)


# --- authentication ---

def test_wrong_ticket_is_denied(reactor_thread, router, user):
    with pytest.raises(Denied) as e:
        ticket_login(reactor_thread, router.port, user[0], "not-the-ticket")
    assert e.value.reason == ApplicationError.AUTHENTICATION_FAILED


def test_unknown_authid_is_denied(reactor_thread, router):
    with pytest.raises(Denied) as e:
        ticket_login(reactor_thread, router.port, "nobody", "whatever")
    assert e.value.reason == ApplicationError.AUTHENTICATION_FAILED


def test_repeated_failures_lock_the_authid_out(reactor_thread, router, user):
    authid, ticket = user
    for _ in range(4):  # 3 free failures, the 4th starts a lockout
        with pytest.raises(Denied):
            ticket_login(reactor_thread, router.port, authid, "wrong")
    with pytest.raises(Denied) as e:
        ticket_login(reactor_thread, router.port, authid, ticket)
    assert "too many failed attempts" in e.value.message


def test_wampcra_login_with_stored_derived_key(reactor_thread, router, principals):
    authid, secret = f"cra-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    principal = principals.create(realm=REALM, authid=authid, role="user")
    principals.set_secret(principal.oid, "wampcra", secret, iterations=100)
    result = reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret=secret)
    assert result.details.authmethod == "wampcra"
    assert result.details.authid == authid
    reactor_thread.call(leave, result.session)
    with pytest.raises(Denied):
        reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret="wrong")


def test_repeated_wampcra_failures_lock_the_authid_out(reactor_thread, router, principals):
    authid, secret = f"cra-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    principal = principals.create(realm=REALM, authid=authid, role="user")
    principals.set_secret(principal.oid, "wampcra", secret, iterations=100)
    for _ in range(4):  # 3 free failures, the 4th starts a lockout
        with pytest.raises(Denied):
            reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret="wrong")
    with pytest.raises(Denied) as e:
        reactor_thread.call(login, router.port, authmethods=["wampcra"], authid=authid, secret=secret)
    assert "too many failed attempts" in e.value.message


# --- history ---

def test_left_session_is_returned_by_wamp_session_get(reactor_thread, router, user):
    result = ticket_login(reactor_thread, router.port, *user)
    session_id = result.details.session
    reactor_thread.call(leave, result.session)
    admin_session = admin(reactor_thread, router)
    info = reactor_thread.call(admin_session.call, "wamp.session.get", session_id)
    assert info["session"] == session_id
    assert info["authid"] == user[0]
    assert info["left_at"] is not None and info["left_at"] >= info["joined_at"]
    assert info["left_approximate"] is None  # it left; no crash closed it
    assert "http_cbtid" not in (info["transport"] or {})  # no cookie values in history
    reactor_thread.call(leave, admin_session)


def test_event_history_of_a_configured_topic(reactor_thread, router, user):
    publisher = ticket_login(reactor_thread, router.port, *user).session
    # Published while nobody is subscribed: still part of the history.
    reactor_thread.call(publisher.publish, HISTORY_TOPIC, "early", options=PublishOptions(acknowledge=True))
    subscriber = ticket_login(reactor_thread, router.port, *user).session
    received = []
    sub = reactor_thread.call(subscriber.subscribe, lambda *a, **kw: received.append(a), HISTORY_TOPIC,
                              options=SubscribeOptions(match="exact"))
    for i in range(3):
        reactor_thread.call(publisher.publish, HISTORY_TOPIC, i, key=f"v{i}",
                            options=PublishOptions(acknowledge=True))
    wait_for(lambda: len(received) == 3, 5, "the events to arrive")
    events = reactor_thread.call(subscriber.call, "wamp.subscription.get_events", sub.id, 10)
    # Newest first, one entry per publication (the module's other tests publish here too).
    assert [e["args"] for e in events][:4] == [[2], [1], [0], ["early"]]
    assert events[0]["kwargs"] == {"key": "v2"}
    assert {e["topic"] for e in events} == {HISTORY_TOPIC}
    assert events[0]["authid"] == user[0]
    for session in (publisher, subscriber):
        reactor_thread.call(leave, session)


def _stored(node_db, rule):
    """Publication ids of rule's history in the database, newest first, and those of its topic."""
    history = SessionHistory(node_db)
    in_history = list(dict.fromkeys(e.publication_id for e in history.events(history_id(rule))))
    return in_history, [p.publication_id for p in history.publications_by_topic(rule.uri)]


def test_a_rules_history_keeps_its_limit_of_events(reactor_thread, router, node_db, user):
    publisher = ticket_login(reactor_thread, router.port, *user).session
    subscriber = ticket_login(reactor_thread, router.port, *user).session
    received = []
    sub = reactor_thread.call(subscriber.subscribe, lambda *a, **kw: received.append(a), LIMITED.uri)
    sent = [reactor_thread.call(publisher.publish, LIMITED.uri, i, options=PublishOptions(acknowledge=True)).id
            for i in range(2 * LIMITED.limit + 1)]
    wait_for(lambda: len(received) == len(sent), 5, "the events to arrive")
    events = reactor_thread.call(subscriber.call, "wamp.subscription.get_events", sub.id, 100)
    assert [e["args"] for e in events] == [[6], [5], [4]]
    # The history holds those three and nothing older: deliveries and publications alike (the read
    # above committed everything the router had staged).
    assert _stored(node_db, LIMITED) == (sent[:-4:-1], sent[:-4:-1])
    for session in (publisher, subscriber):
        reactor_thread.call(leave, session)


def test_what_a_rule_holds_above_its_limit_goes_at_the_next_retention_run(reactor_thread, router, node_db, user):
    # A rule is trimmed after every quarter of its limit recorded (here every fifth event): the 21st
    # stays until the retention run (every second here) applies every rule's limit.
    publisher = ticket_login(reactor_thread, router.port, *user).session
    sent = [reactor_thread.call(publisher.publish, SWEPT.uri, i, options=PublishOptions(acknowledge=True)).id
            for i in range(SWEPT.limit + 1)]
    kept = sent[:0:-1]
    wait_for(lambda: _stored(node_db, SWEPT) == (kept, kept), 10, "the rule's history to be its last 20 events",
             interval=0.1)
    reactor_thread.call(leave, publisher)


def test_untracked_topic_has_no_history(reactor_thread, router, user):
    session = ticket_login(reactor_thread, router.port, *user).session
    sub = reactor_thread.call(session.subscribe, lambda *a: None, "org.other.topic")
    with pytest.raises(ApplicationError) as e:
        reactor_thread.call(session.call, "wamp.subscription.get_events", sub.id)
    assert e.value.error == "wamp.error.history_unavailable"
    reactor_thread.call(leave, session)


# --- configuration ---

def test_invalid_config_fails_at_startup_naming_the_key(tmp_path):
    run_cli("router", "init", "--cbdir", str(tmp_path), "--port", str(free_port()))
    edit_config(tmp_path, lambda c: c["workers"][0]["transports"][0]["cookie"]["store"].update(sync="yes"))
    out = run_cli("router", "start", "--cbdir", str(tmp_path), timeout=60)
    assert out.returncode != 0
    assert "cookie.store.sync" in out.stdout + out.stderr
