"""The management API of a router on PostgreSQL publishes changes made by other processes, once."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

import pg
from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from cfxstore.router.managementconfig import add_management
from router_harness import init_node, running, wait_for
from router_wampclient import leave, login

P = "cfxstore.mgmt."
TICKET = "ticket-of-ops"


@pytest.fixture(scope="module")
def pg_url():
    yield from pg.private_url()


def add_operator(url: str) -> None:
    """The management realm's admin "ops" (ticket TICKET), stored in the database at url."""
    with open_database(url) as db:
        creds = CredentialService(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                            type=Type.ID))
        Management(db, credentials=creds).principals.create(realm="mgmt", authid="ops", role="admin", ticket=TICKET)


@pytest.fixture(scope="module")
def node(tmp_path_factory, reactor_thread, pg_url):
    add_operator(pg_url)
    with running(init_node(tmp_path_factory.mktemp("node"), add_management, pg.on_postgres(pg_url))) as router:
        wait_for(lambda: "cfxstore management API ready" in router.log(), 30, "the management API")
        yield router


@pytest.fixture(scope="module")
def ops(reactor_thread, node):
    session = reactor_thread.call(login, node.port, realm="mgmt", authmethods=["ticket"], authid="ops",
                                  ticket=TICKET).session
    yield session
    reactor_thread.call(leave, session)


def test_changes_from_another_process_and_from_the_api_are_each_published_once(reactor_thread, ops, pg_url):
    events: list = []
    reactor_thread.call(ops.subscribe, lambda record: events.append(record["name"]), P + "webcluster.on_created")
    with open_database(pg_url) as db:  # this test process: another engine, heard through NOTIFY
        Management(db).webclusters.create(name="from-elsewhere")
    wait_for(lambda: "from-elsewhere" in events, 10, "the event of the other process's change")
    reactor_thread.call(ops.call, P + "webcluster.create", {"name": "from-the-api"})
    wait_for(lambda: "from-the-api" in events, 10, "the event of the API's change")
    reactor_thread.call(ops.call, P + "webcluster.create", {"name": "last"})
    wait_for(lambda: "last" in events, 10, "the last event")
    # One publisher's events arrive in order: a second copy of either would have come before the last.
    assert events == ["from-elsewhere", "from-the-api", "last"]
