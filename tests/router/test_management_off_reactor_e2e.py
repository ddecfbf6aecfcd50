"""The management API waiting on a stalled PostgreSQL never holds up the rest of the worker.

The node reaches PostgreSQL through the test's proxy (pgproxy.py) and runs
with the reactor guard (router_harness.REACTOR_FORBIDDEN): any database call
on its reactor thread would fail, and is named in the node's log.
"""

from __future__ import annotations

import pytest

import pg
from cfxstore.router.managementconfig import add_management
from router_harness import reactor_forbidden, wait_for
from router_wampclient import leave, login
from test_cluster_e2e import _principal
from test_cookie_reads_off_reactor_e2e import _reactor_sites
from test_cluster_outage import pg_url, proxied_node, proxy  # noqa: F401 (a private schema, a proxy to it)
from test_management_feed_pg_e2e import P, TICKET, add_operator

PROCEDURE = "com.example.bystander"


@pytest.fixture(scope="module")
def node(tmp_path_factory, pg_url, proxy):
    add_operator(pg_url)

    def configure(config: dict) -> None:
        add_management(config)
        pg.on_postgres(proxy.url())(config)

    for n in proxied_node(tmp_path_factory, pg_url, proxy, configure):
        wait_for(lambda: "cfxstore management API ready" in n.log(), 30, "the management API")
        yield n


@pytest.fixture(scope="module")
def sessions(reactor_thread, node, pg_url):
    """A bystander on realm1 with a procedure of its own, and an operator on the management realm hearing of
    every role created."""
    rt = reactor_thread
    user = _principal(pg_url, "user")
    bystander = rt.call(login, node.port, authmethods=["ticket"], authid=user[0], ticket=user[1]).session
    rt.call(bystander.register, lambda n: n + 1, PROCEDURE)
    ops = rt.call(login, node.port, realm="mgmt", authmethods=["ticket"], authid="ops", ticket=TICKET).session
    created: list = []  # the names of the roles published as created, in order
    rt.call(ops.subscribe, lambda record: created.append(record["name"]), P + "role.on_created")
    yield bystander, ops, created
    rt.call(leave, ops)
    rt.call(leave, bystander)


def _asked(proxy, before: int) -> bool:
    """Whether the node sent the stalled database anything since proxy.held had ``before`` chunks (a statement
    or a new connection: statements are prepared, so their text is not always sent)."""
    return len(proxy.held) > before


def test_a_bystanders_call_is_answered_while_a_management_write_waits_for_a_stalled_database(
        reactor_thread, node, proxy, sessions):
    rt = reactor_thread
    bystander, ops, created = sessions
    assert rt.call(bystander.call, PROCEDURE, 1) == 2
    assert rt.call(ops.call, P + "role.list")["items"] == []  # answered before the database slows down
    waiting: dict = {}
    before = len(proxy.held)
    proxy.stall()
    try:
        rt.call(lambda: waiting.update(create=ops.call(P + "role.create", {"name": "while-stalled"})))
        wait_for(lambda: _asked(proxy, before), 30, "the node to ask the database")
        assert rt.call(bystander.call, PROCEDURE, 41) == 42
        assert not waiting["create"].called
    finally:
        proxy.restore()
    assert rt.call(lambda: waiting["create"])["name"] == "while-stalled"
    wait_for(lambda: "while-stalled" in created, 30, "the change to be published")
    assert not any(reactor_forbidden(site) for site in _reactor_sites(node))


def test_a_bystanders_call_is_answered_while_the_change_feed_waits_for_a_stalled_database(
        reactor_thread, node, proxy, sessions):
    rt = reactor_thread
    bystander, ops, created = sessions
    before = len(proxy.held)
    proxy.stall()
    try:
        # An idle node's one periodic reader: the feed's check of the stored sequence (PG_FOLLOW_INTERVAL).
        wait_for(lambda: _asked(proxy, before), 30, "the change feed to read")
        assert rt.call(bystander.call, PROCEDURE, 42) == 43
    finally:
        proxy.restore()
    rt.call(ops.call, P + "role.create", {"name": "after-the-stall"})
    wait_for(lambda: "after-the-stall" in created, 30, "the change to be published")
    assert created[-1] == "after-the-stall" and len(created) == len(set(created))  # each once, in commit order
    assert not any(reactor_forbidden(site) for site in _reactor_sites(node))
