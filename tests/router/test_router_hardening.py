"""A real router at debug log level: failure isolation, no secrets outside the hashes, true session history.

The tests of this module run in order on one router: secrets used by every
test are collected and, at the end, searched for in every file of the node
directory (logs and database) and in dumps made with and without
--include-secrets.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from cfxstore.cookies.service import CookieService
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.realmstore.service import SessionHistory
from router_harness import RouterProcess, edit_config, free_port, run_cli, running, wait_for
from router_wampclient import Denied, leave, login

REALM = "realm1"
# 496 UTF-8 bytes: Crossbar's static ticket auth accepts it, no authid index can hold it.
POISONED_AUTHID = "\U0001F600" * 124
STATIC_TICKET = secrets.token_urlsafe(16)
USED: set[str] = set()  # every cookie value and ticket the tests used


def remember(*values: str | None) -> None:
    USED.update(v for v in values if v)


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread):
    cbdir = tmp_path_factory.mktemp("node")
    port, static_port = free_port(), free_port()
    result = run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port))
    assert result.returncode == 0, result.stderr

    def configure(config: dict) -> None:
        worker = config["workers"][0]
        static = dict(worker["transports"][0])
        static["endpoint"] = {**static["endpoint"], "port": static_port}
        static["auth"] = {"ticket": {"type": "static", "principals": {
            POISONED_AUTHID: {"ticket": STATIC_TICKET, "role": "user"}}}, "cookie": {}}
        worker["transports"].append(static)

    edit_config(cbdir, configure)
    remember(STATIC_TICKET)
    node = RouterProcess(cbdir, [port, static_port], loglevel="debug")
    node.port, node.static_port = port, static_port
    db = open_database(str(cbdir / "cfxstore-db"))
    credentials = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                              type=Type.ID))
    principals = Management(db, credentials=credentials).principals
    # Principals made before the first start: the node prints no one-time admin ticket.
    node.admin = ("admin", secrets.token_urlsafe(16))
    principals.create(realm=REALM, authid="admin", role="admin", ticket=node.admin[1])
    remember(node.admin[1])
    node.db, node.principals = db, principals
    try:
        with running(node):
            yield node
    finally:
        db.close()


@pytest.fixture
def user(router):
    authid, ticket = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    router.principals.create(realm=REALM, authid=authid, role="user", ticket=ticket)
    remember(ticket)
    return authid, ticket


def ticket_login(rt, port, authid, ticket):
    result = rt.call(login, port, authmethods=["ticket"], authid=authid, ticket=ticket)
    remember(result.cookie and result.cookie.partition("=")[2])
    return result


def cookie_login(rt, port, cookie):
    return rt.call(login, port, authmethods=["cookie"], cookie=cookie)


def stored_authid(router, cookie: str) -> str | None:
    cookie_record = CookieService(router.db).lookup(cookie.partition("=")[2])
    return None if cookie_record is None else cookie_record.authid


def sessions(router) -> list:
    history = SessionHistory(router.db)
    with router.db.begin() as txn:
        return list(history.schema.sessions.select(txn, return_keys=False))


# --- failure isolation ---

def test_a_poisoned_login_does_not_stop_later_cookie_persistence(reactor_thread, router, user):
    poisoned = ticket_login(reactor_thread, router.static_port, POISONED_AUTHID, STATIC_TICKET)
    assert poisoned.details.authid == POISONED_AUTHID            # the login itself stands
    reactor_thread.call(leave, poisoned.session)
    later = ticket_login(reactor_thread, router.port, *user)
    reactor_thread.call(leave, later.session)
    # The router commits the later login (a read through the router flushes the shared writer).
    wait_for(lambda: stored_authid(router, later.cookie) == user[0], 10, "the later login to be stored")
    via_cookie = cookie_login(reactor_thread, router.port, later.cookie)
    assert via_cookie.details.authmethod == "cookie" and via_cookie.details.authid == user[0]
    reactor_thread.call(leave, via_cookie.session)
    assert stored_authid(router, poisoned.cookie) is None          # not remembered, no harm done
    assert "not remembered on its cookie" in router.log()


# --- session history ---

def test_sessions_are_recorded_once_and_the_service_agent_not_at_all(reactor_thread, router, user):
    result = ticket_login(reactor_thread, router.port, *user)
    admin = ticket_login(reactor_thread, router.port, *router.admin)
    # A read through the meta API commits what the router staged.
    reactor_thread.call(admin.session.call, "wamp.session.get", result.details.session)
    recorded = sessions(router)
    assert [s.session_id for s in recorded].count(result.details.session) == 1
    assert not [s for s in recorded if s.authrole == "trusted" or (s.authid or "").endswith("serviceagent")]
    assert [s.authrole for s in recorded].count("cfxstore") == 1   # the embedded revocation component, once
    for r in (result, admin):
        reactor_thread.call(leave, r.session)


def test_a_clean_stop_marks_live_sessions_as_left_at_the_stop_time(reactor_thread, router, user):
    live = ticket_login(reactor_thread, router.port, *user)
    before = time.time_ns()
    router.stop()
    after = time.time_ns()
    reactor_thread.call(lambda: live.session.left, timeout=15)
    (session,) = [s for s in sessions(router) if s.session_id == live.details.session]
    assert session.left_at is not None and before <= session.left_at <= after
    assert session.left_approximate is None
    assert not [s for s in sessions(router) if s.left_at is None]
    router.start()


def test_after_a_crash_the_next_start_closes_the_sessions_at_the_last_heartbeat(reactor_thread, router, user):
    live = ticket_login(reactor_thread, router.port, *user)
    admin = ticket_login(reactor_thread, router.port, *router.admin)
    reactor_thread.call(admin.session.call, "wamp.session.get", live.details.session)  # commits the join
    killed_at = time.time_ns()
    router.kill()                                                  # SIGKILL, the whole process group
    assert [s.left_at for s in sessions(router) if s.session_id == live.details.session] == [None]
    router.start()
    (session,) = [s for s in sessions(router) if s.session_id == live.details.session]
    assert session.left_approximate is True
    assert session.joined_at <= session.left_at <= killed_at
    assert not [s for s in sessions(router) if s.left_at is None and s.run != _current_run(router)]
    # The meta API answers from the store as `cfxstore sessions list --json` does.
    admin = ticket_login(reactor_thread, router.port, *router.admin)
    info = reactor_thread.call(admin.session.call, "wamp.session.get", live.details.session)
    assert (info["left_at"], info["left_approximate"]) == (session.left_at, True)
    reactor_thread.call(leave, admin.session)


def _current_run(router) -> str:
    (run,) = SessionHistory(router.db).runs()
    return run.run


# --- no secrets outside the hashes ---

def test_logout_and_revocation(reactor_thread, router, user):
    first = ticket_login(reactor_thread, router.port, *user)
    bearer = secrets.token_urlsafe(16)
    remember(bearer)
    # An Authorization header travels with the handshake into the logs and the session's transport details.
    via_cookie = reactor_thread.call(login, router.port, authmethods=["cookie"], cookie=first.cookie,
                                     headers={"Authorization": f"Bearer {bearer}"})
    assert via_cookie.details.authmethod == "cookie"
    reactor_thread.call(leave, via_cookie.session, "wamp.close.logout")
    reactor_thread.call(lambda: first.session.left, timeout=10)
    with pytest.raises(Denied):
        cookie_login(reactor_thread, router.port, first.cookie)
    second = ticket_login(reactor_thread, router.port, *user)
    admin = ticket_login(reactor_thread, router.port, *router.admin)
    result = reactor_thread.call(admin.session.call, "cfxstore.cookie.revoke_by_authid", user[0])
    assert result["cookies_deleted"] == 1
    reactor_thread.call(lambda: second.session.left, timeout=10)
    with pytest.raises(Denied):
        cookie_login(reactor_thread, router.port, second.cookie)
    reactor_thread.call(leave, admin.session)


def test_no_secret_reaches_the_node_directory_the_logs_or_a_dump(reactor_thread, router, tmp_path):
    router.stop()                                                  # every log line and write is out
    assert len(USED) >= 8 and "DEBUG" in router.log().upper()      # the run logged at debug level
    leaks = {}
    for path in Path(router.cbdir).rglob("*"):
        if path.is_file() and path.name != "config.json":  # the operator's own file holds the static ticket
            data = path.read_bytes()
            found = [s for s in USED if s.encode() in data]
            if found:
                leaks[str(path)] = found
    for flags in ([], ["--include-secrets"]):
        out = tmp_path / f"dump{len(flags)}.jsonl"
        result = run_cli("db", "dump", str(router.cbdir / "cfxstore-db"), "--out", str(out), *flags)
        assert result.returncode == 0, result.stderr
        assert os.stat(out).st_mode & 0o777 == 0o600
        text = out.read_text() + result.stdout + result.stderr
        found = [s for s in USED if s in text]
        if found:
            leaks[f"dump {flags}"] = found
    assert leaks == {}
    assert "Unable to format event" not in router.log()         # the filter keeps every line readable
    router.start()
