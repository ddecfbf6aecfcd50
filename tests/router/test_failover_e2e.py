"""A router node on a PostgreSQL primary and its streaming replica, named by one multi-host URL.

Each test makes a real pair (pgreplica.py: initdb, pg_basebackup and
pg_ctl, run as the postgres user) and a real node whose URL names both
servers with ``target_session_attrs=read-write``. A failover (the primary
stopped, the replica promoted) while clients log in: the node serves cookie
and ticket logins again within 5 s of the promotion, and no login it
acknowledged before the cut is lost. A replica that never promotes, and a
URL whose servers are all read-only, get a clear refusal and leave the
node and the database in a defined state.
"""

from __future__ import annotations

import threading
import uuid

import pytest

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.database import exists, open_database
from pgreplica import ReplicaPair, missing
from router_harness import edit_config, free_port, init_node, run_cli, running, wait_for
from router_wampclient import Denied, leave, login
from test_cluster_e2e import _principal
from test_cluster_outage import _store_unavailable

#: The bound of the promise: cookie and ticket logins work again within this many seconds of the promotion.
FAILOVER_SECONDS = 5
UNREACHABLE = "database unreachable, refusing what needs it"

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@pytest.fixture
def pair():
    p = ReplicaPair()
    yield p
    p.close()


@pytest.fixture
def schema():
    return "t_" + uuid.uuid4().hex[:24]


@pytest.fixture
def node(tmp_path, pair, schema):
    url = pair.url(schema)
    open_database(url).close()
    with running(init_node(tmp_path / "node", pg.on_postgres(url))) as n:
        yield n


def _ticket(rt, node, user):
    return rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1])


def _attempt(rt, node, **kwargs):
    """A login (Login) or its refusal (Denied)."""
    try:
        return rt.call(login, node.port, **kwargs)
    except Denied as exc:
        return exc


def _stored(url: str, cookies: list[str]) -> dict[str, str | None]:
    """cookie ("name=value") -> the authid stored on it, read from the writable server of url."""
    with open_database(url) as db:
        service = CookieService(db)
        return {c: getattr(service.lookup(c.partition("=")[2]), "authid", None) for c in cookies}


def test_a_failover_to_the_promoted_replica_serves_logins_within_5s_and_loses_no_acknowledged_login(
        reactor_thread, pair, schema, node):
    url = pair.url(schema)
    user = _principal(url, "user")
    acknowledged: dict[str, str] = {}  # cookie -> authid, of every login acknowledged before the cut
    for _ in range(5):
        result = _ticket(reactor_thread, node, user)
        acknowledged[result.cookie] = user[0]
        reactor_thread.call(leave, result.session)
    primary_only = pair.url(schema, hosts=[pair.primary])
    wait_for(lambda: all(_stored(primary_only, list(acknowledged)).values()), 15, "the first logins to commit")

    # Clients keep logging in while the primary stops and the replica is promoted.
    cut = threading.Event()
    stop = threading.Event()
    during: list = []

    def clients() -> None:
        while not stop.is_set():
            before_cut = not cut.is_set()
            result = _attempt(reactor_thread, node, authmethods=["ticket"], authid=user[0], ticket=user[1])
            if not isinstance(result, Denied):
                if before_cut:
                    acknowledged[result.cookie] = user[0]
                reactor_thread.call(leave, result.session)
            during.append(result)

    thread = threading.Thread(target=clients, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(during) >= 3, 30, "logins while the primary still serves")
        cut.set()
        pair.stop_primary()
        # Until the promotion no server takes writes: the first cookie (long out of the cache) is refused.
        first = next(iter(acknowledged))
        refused = wait_for(lambda: (lambda r: r if isinstance(r, Denied) else None)(
            _attempt(reactor_thread, node, authmethods=["cookie"], cookie=first)), 15,
            "the cookie login to be refused without a writable server", interval=0.1)
        assert _store_unavailable(refused, "cookie store"), refused
        pair.promote()
        # Within 5 s of the promotion: that cookie login (read from the new primary) and a ticket
        # login (the credentials read there too).
        again = wait_for(lambda: (lambda r: None if isinstance(r, Denied) else r)(
            _attempt(reactor_thread, node, authmethods=["cookie"], cookie=first)),
            FAILOVER_SECONDS, "a cookie login after the promotion", interval=0.1)
        assert again.details.authmethod == "cookie" and again.details.authid == user[0]
        reactor_thread.call(leave, again.session)
        ticket = wait_for(lambda: (lambda r: None if isinstance(r, Denied) else r)(
            _attempt(reactor_thread, node, authmethods=["ticket"], authid=user[0], ticket=user[1])),
            FAILOVER_SECONDS, "a ticket login after the promotion", interval=0.1)
        reactor_thread.call(leave, ticket.session)
    finally:
        stop.set()
        thread.join(30)
    # Refusals during the cut, if any, said why.
    denied = [r for r in during if isinstance(r, Denied)]
    assert all(_store_unavailable(r, "credential store") for r in denied), denied
    # Every login acknowledged before the cut is on the new primary: committed ones were replicated,
    # staged ones were committed there by the write-behind.
    new_primary = pair.url(schema, hosts=[pair.replica])
    wait_for(lambda: _stored(new_primary, list(acknowledged)) == acknowledged, 30,
             f"all {len(acknowledged)} acknowledged logins on the new primary")
    assert UNREACHABLE in node.log() and "database reachable again" in node.log()


def test_a_replica_that_never_promotes_leaves_the_node_refusing_clearly_until_it_does(
        reactor_thread, pair, schema, node):
    user = _principal(pair.url(schema), "user")
    joined = _ticket(reactor_thread, node, user)
    # Committed first: a login still staged at the cut would log in from memory (docs/clusters.md).
    primary_only = pair.url(schema, hosts=[pair.primary])
    wait_for(lambda: _stored(primary_only, [joined.cookie])[joined.cookie], 15, "the login to commit")
    pair.stop_primary()  # and no promotion: only a read-only server is left
    wait_for(lambda: UNREACHABLE in node.log(), 15, "the node to notice")
    refused = wait_for(lambda: (lambda r: r if isinstance(r, Denied) else None)(
        _attempt(reactor_thread, node, authmethods=["cookie"], cookie=joined.cookie)), 15,
        "the cookie login to be refused", interval=0.2)
    assert _store_unavailable(refused, "cookie store"), refused
    ticket = _attempt(reactor_thread, node, authmethods=["ticket"], authid=user[0], ticket=user[1])
    assert _store_unavailable(ticket, "credential store"), ticket
    # The node stays up, says so once, and a session joined before keeps working.
    assert node.proc.poll() is None and node.log().count(UNREACHABLE) == 1
    assert reactor_thread.call(joined.session.call, "wamp.session.count") >= 1
    # A late promotion ends it.
    pair.promote()
    wait_for(lambda: not isinstance(_attempt(reactor_thread, node, authmethods=["cookie"], cookie=joined.cookie),
                                     Denied), 30, "cookie logins after the late promotion", interval=0.2)
    reactor_thread.call(leave, joined.session)


def test_a_url_whose_servers_are_all_read_only_is_refused_in_one_line_and_nothing_is_created(
        tmp_path, pair, schema):
    read_only = pair.url(schema, hosts=[pair.replica, pair.replica])
    result = run_cli("db", "info", read_only)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "read-only" in message, message
    # A node pointed at it refuses to start, in one line, before it listens.
    cbdir = tmp_path / "node"
    port = free_port()
    assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port)).returncode == 0
    edit_config(cbdir, pg.on_postgres(read_only))
    start = run_cli("router", "start", "--cbdir", str(cbdir), timeout=60)
    assert start.returncode != 0 and "Traceback" not in start.stderr + start.stdout
    assert "read-only" in start.stderr, start.stderr
    # Nothing was created on the primary (the replica follows it).
    assert not exists(pair.url(schema, hosts=[pair.primary]))
