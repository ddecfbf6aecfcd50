"""The Twisted form: a reactor goes on serving while a service call waits for a locked database in the pool.

Each test runs a reactor of its own in a thread (not the global one, which the router tests run) and
acts on it through blockingCallFromThread, as an application's code on the reactor would.
"""

from __future__ import annotations

import socket
import threading
import uuid
from typing import Any, Callable, Iterator

import pytest
from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.selectreactor import SelectReactor
from twisted.internet.threads import blockingCallFromThread

from cfxstore.database import open_database
from cfxstore.errors import AlreadyExists, InvalidArgument, NotFound
from cfxstore.management import Management
from cfxstore.nonblocking import PoolFull, ServicePool, deferred
from nonblocking_holds import wait_for

TIMEOUT = 30


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


@pytest.fixture
def reactor() -> Iterator[Any]:
    r = SelectReactor()
    thread = threading.Thread(target=r.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    wait_for(lambda: r.running, "the reactor to run")
    yield r
    r.callFromThread(r.stop)
    thread.join(TIMEOUT)


def on(reactor: Any, fn: Callable[[], Any]) -> Any:
    """fn() on the reactor's thread; its (Deferred) result, waited for here at most TIMEOUT seconds."""
    def run() -> Any:
        return defer.maybeDeferred(fn).addTimeout(TIMEOUT, reactor)

    return blockingCallFromThread(reactor, run)


def served(reactor: Any) -> bytes:
    """An unrelated client's round trip through a server on the reactor."""
    port = on(reactor, lambda: reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1"))
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=TIMEOUT) as client:
            client.sendall(b"ping")
            return client.recv(16)
    finally:
        on(reactor, port.stopListening)


def test_the_reactor_serves_a_client_while_a_write_waits_for_a_locked_database(reactor, held, pool):
    with open_database(held.url) as db:
        mgmt = deferred.wrap(Management(db), pool, reactor=reactor)
        waiting: dict = {}
        with held.hold():
            on(reactor, lambda: waiting.update(role=mgmt.roles.create(name="waits")))
            wait_for(lambda: held.waits(pool), "the write to wait for the lock")
            assert served(reactor) == b"ping"
            assert not waiting["role"].called
        role = on(reactor, lambda: waiting["role"])
        assert on(reactor, lambda: mgmt.roles.get_by("waits")).oid == role.oid


def test_refusals_arrive_as_the_same_cfxstore_exceptions_on_the_reactor_thread(reactor, database, pool):
    mgmt = deferred.wrap(Management(database), pool, reactor=reactor)
    on(reactor, lambda: mgmt.roles.create(name="taken"))
    failed_on: list = []

    def refused() -> defer.Deferred:
        def seen(failure):
            failed_on.append(threading.current_thread())
            return failure
        return mgmt.roles.create(name="taken").addErrback(seen)

    with pytest.raises(AlreadyExists, match="role with name 'taken' already exists"):
        on(reactor, refused)
    assert failed_on == [on(reactor, threading.current_thread)]
    with pytest.raises(NotFound):
        on(reactor, lambda: mgmt.roles.get(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="limit"):
        on(reactor, lambda: mgmt.roles.list(limit=0))


def test_one_call_is_one_transaction_all_or_nothing(reactor, database, pool):
    sync = Management(database)
    mgmt = deferred.wrap(sync, pool, reactor=reactor)

    def realm_and_role(txn) -> None:
        sync.arealms.create(txn, name="shop")
        sync.roles.create(txn, name="buyer")
        sync.roles.create(txn, name="buyer")

    with pytest.raises(AlreadyExists):
        on(reactor, lambda: mgmt.transact(realm_and_role))
    assert on(reactor, lambda: mgmt.arealms.list()).items == []
    assert on(reactor, lambda: mgmt.roles.list()).items == []


def test_a_full_pool_fails_the_deferred_and_a_cancelled_waiting_call_never_runs(reactor, lmdb_path):
    pool = ServicePool(threads=1, max_waiting=1, name="small")
    gate = threading.Event()
    ran: list = []
    try:
        with open_database(lmdb_path) as db:
            mgmt = deferred.wrap(Management(db), pool, reactor=reactor)
            gated = deferred.wrap(gate.wait, pool, reactor=reactor)
            held = on(reactor, lambda: [gated(TIMEOUT)])[0]
            wait_for(lambda: pool.running == 1, "the first call to run")
            queued = on(reactor, lambda: [deferred.wrap(ran.append, pool, reactor=reactor)("ran")])[0]
            with pytest.raises(PoolFull, match="small pool is full"):
                on(reactor, lambda: mgmt.roles.list())
            on(reactor, queued.cancel)
            with pytest.raises(defer.CancelledError):
                on(reactor, lambda: queued)
            gate.set()
            assert on(reactor, lambda: held) is True
            assert on(reactor, lambda: mgmt.roles.list()).items == []
            assert ran == []
    finally:
        gate.set()
        pool.close()
