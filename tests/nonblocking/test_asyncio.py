"""The asyncio form: a loop goes on serving while a service call waits for a locked database in the pool."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.errors import AlreadyExists, InvalidArgument, NotFound
from cfxstore.management import Management
from cfxstore.management.feed import ChangeFeed
from cfxstore.nonblocking import PoolFull, ServicePool, awaitable
from cfxstore.realmstore.service import SessionHistory
from cfxstore.service import Service
from nonblocking_holds import wait_for

TIMEOUT = 30


async def _served() -> bytes:
    """An unrelated client's round trip through a server on this loop."""
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(b"ping\n")
        answer = await asyncio.wait_for(reader.readline(), TIMEOUT)
        writer.close()
        await writer.wait_closed()
    return answer


async def _until(condition, what: str) -> None:
    """Wait, in a thread, for a condition that may ask the database (the loop keeps running meanwhile)."""
    await asyncio.to_thread(wait_for, condition, what, TIMEOUT)


def test_the_loop_serves_a_client_while_a_write_waits_for_a_locked_database(held, pool):
    with open_database(held.url) as db:
        async def main() -> None:
            nb = awaitable.wrap(Management(db), pool)
            with held.hold():
                waiting = asyncio.ensure_future(nb.roles.create(name="waits"))
                await _until(lambda: held.waits(pool), "the write to wait for the lock")
                assert await _served() == b"ping\n"
                assert not waiting.done()
            role = await asyncio.wait_for(waiting, TIMEOUT)  # on PostgreSQL: run again after its conflict
            assert (await nb.roles.get_by("waits")).oid == role.oid

        asyncio.run(main())


def test_refusals_arrive_as_the_same_cfxstore_exceptions(database, pool):
    async def main() -> None:
        nb = awaitable.wrap(Management(database), pool)
        await nb.roles.create(name="taken")
        with pytest.raises(AlreadyExists, match="role with name 'taken' already exists"):
            await nb.roles.create(name="taken")
        with pytest.raises(NotFound):
            await nb.roles.get(uuid.uuid4())
        with pytest.raises(InvalidArgument, match="limit"):
            await nb.roles.list(limit=0)

    asyncio.run(main())


def test_one_call_is_one_transaction_all_or_nothing_and_concurrent_writers_stay_consistent(database, pool):
    mgmt = Management(database)

    def realm_and_role(txn) -> None:
        mgmt.arealms.create(txn, name="shop")
        mgmt.roles.create(txn, name="buyer")
        mgmt.roles.create(txn, name="buyer")  # refused: the whole transaction writes nothing

    async def main() -> None:
        nb = awaitable.wrap(mgmt, pool)
        with pytest.raises(AlreadyExists):
            await nb.transact(realm_and_role)
        assert (await nb.arealms.list()).items == [] and (await nb.roles.list()).items == []
        # Four writers of one unique name through the pool's threads: one wins, the rest are refused.
        outcomes = await asyncio.gather(*(nb.roles.create(name="only-one") for _ in range(4)),
                                        return_exceptions=True)
        assert sum(not isinstance(o, Exception) for o in outcomes) == 1
        assert all(isinstance(o, AlreadyExists) for o in outcomes if isinstance(o, Exception))
        assert [r.name for r in (await nb.roles.list()).items] == ["only-one"]

    asyncio.run(main())


def test_a_full_pool_refuses_through_the_awaitable(lmdb_path):
    pool = ServicePool(threads=1, max_waiting=1, name="small")
    gate = threading.Event()
    mgmt = Management.open(lmdb_path)

    async def main() -> None:
        held = [awaitable.run(pool, gate.wait, TIMEOUT) for _ in range(2)]
        with pytest.raises(PoolFull, match="small pool is full"):
            await awaitable.wrap(mgmt, pool).roles.list()
        gate.set()
        assert await asyncio.gather(*held) == [True, True]

    try:
        asyncio.run(main())
    finally:
        gate.set()
        pool.close()
        mgmt.close()


class Probe(Service):
    """A service that notes the thread each of its public methods and properties runs in."""

    kind = "probe"

    def __init__(self, db) -> None:
        super().__init__(db)
        self.threads: list[str] = []
        self.limits = {"max": 3}

    def where(self) -> str:
        self.threads.append(threading.current_thread().name)
        return self.threads[-1]

    @property
    def child(self) -> Probe:
        self.threads.append(threading.current_thread().name)
        return self

    def numbers(self):
        yield from range(3)


def test_methods_and_properties_run_in_the_pool_and_plain_values_and_private_names_do_not(lmdb_path, pool):
    db = open_database(lmdb_path)
    probe = Probe(db)
    nb = awaitable.wrap(probe, pool)

    async def main() -> None:
        assert (await nb.where()).startswith("test-pool")
        assert (await nb.child.where()).startswith("test-pool")  # the property is read in the pool too
        assert await nb.numbers() == [0, 1, 2]  # an iterator is read to its end in the pool
        assert (await nb.limits.get("max")) == 3
        assert nb.kind == "probe" and nb.write_retries == 10
        with pytest.raises(AttributeError, match="only the public attributes"):
            nb._owns_db
        with pytest.raises(AttributeError):
            nb.no_such_method
        feed = awaitable.wrap(ChangeFeed(db), pool)
        await awaitable.wrap(Management(db), pool).roles.create(name="fed")
        entries = await feed.follow(0)
        assert isinstance(entries, list) and [e["record"]["name"] for _, e in entries] == ["fed"]

    try:
        asyncio.run(main())
        assert probe.threads and all(t.startswith("test-pool") for t in probe.threads)
    finally:
        db.close()


def test_the_cookie_and_history_services_are_wrapped_the_same_way(database, pool):
    cookies, history = CookieService(database), SessionHistory(database)

    async def main() -> None:
        nb_cookies, nb_history = awaitable.wrap(cookies, pool), awaitable.wrap(history, pool)
        value, cookie = await nb_cookies.new()
        cookie = await nb_cookies.login(cookie, authid="ann", authrole="user", authmethod="ticket",
                                        authextra=None, authrealm="realm1")  # a static method, in the pool too
        await nb_cookies.transact(lambda txn: cookies.put(txn, [cookie]))
        assert (await nb_cookies.lookup(value)).authid == "ann"
        assert await nb_cookies.revoke_authid("ann") == [cookie.value_hash]
        assert await nb_cookies.lookup(value) is None
        await nb_history.session_joined(session_id=7, realm="realm1", authid="ann", authrole="user",
                                        authmethod="ticket")
        assert [s.session_id for s in await nb_history.sessions_by_authid("ann")] == [7]

    asyncio.run(main())
