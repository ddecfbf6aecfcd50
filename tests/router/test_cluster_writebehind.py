"""The write-behind and the availability gate against a real PostgreSQL server behind a proxy that is cut."""

from __future__ import annotations


import pytest
from twisted.logger import globalLogPublisher

import pg
from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from cfxstore.node.config import CookieConfig, DatabaseConfig
from cfxstore.router import metrics
from cfxstore.router.cookiebackend import CookieBackend
from cfxstore.realmstore.service import SessionHistory
from cfxstore.router.availability import Availability, StoreUnavailable, availability
from cfxstore.router.writebehind import WriteBehind, each
from orm.errors import Conflict, DatabaseError
from pgproxy import PgProxy
from router_harness import wait_for


@pytest.fixture
def pg_url():
    yield from pg.private_url()


@pytest.fixture
def proxy(pg_url):
    p = PgProxy(pg_url)
    yield p
    p.close()


@pytest.fixture
def proxied(pg_url, proxy):
    """The database through the proxy; a short pool timeout keeps the first failed attempt short."""
    open_database(pg_url).close()
    db = open_database(proxy.url() + "&timeout=2")
    yield db
    availability(db).stop()
    db.close()


def _sessions(history: SessionHistory, n: int, first: int = 1):
    return [history.new_session(session_id=first + i, realm="realm1", authid="a", authrole="user",
                                authmethod="ticket") for i in range(n)]


def test_writes_staged_while_the_database_is_away_are_kept_and_committed_when_it_answers(
        proxied, proxy, pg_url):
    history = SessionHistory(proxied)
    writer = WriteBehind(proxied, delay=0.01, max_items=2)  # no reactor: every write is flushed at once
    put = each(history.put_session)
    writer.append(put, _sessions(history, 1)[0])
    proxy.cut()
    staged = _sessions(history, 5, first=100)
    for session in staged:
        writer.append(put, session)  # each flush fails: the first finds the outage, the rest do not try
    # All kept, past max_items, none set aside as unwritable.
    assert not writer.availability.up and len(writer) == 5 and not writer.refused
    proxy.restore()
    wait_for(lambda: writer.availability.up, 30, "the database to answer again", interval=0.1)
    writer.flush()
    assert len(writer) == 0
    with open_database(pg_url) as db:
        stored = SessionHistory(db)
        assert all(stored.get_session(i) is not None for i in [1, *(s.session_id for s in staged)])


def test_while_down_the_gate_refuses_at_once_naming_the_store_and_opens_when_the_database_answers(
        proxied, proxy):
    gate, history = availability(proxied), SessionHistory(proxied)
    assert gate.call("cookie store", lambda: 42) == 42
    proxy.cut()
    with pytest.raises(StoreUnavailable) as first:
        gate.call("cookie store", lambda: history.get_session(1))
    with pytest.raises(StoreUnavailable) as second:
        gate.call("cookie store", lambda: pytest.fail("called while the database is down"))
    for exc in (first.value, second.value):
        assert exc.error == "cfxstore.error.store_unavailable"
        assert exc.args == ("the cookie store is unavailable; retry later",)
    proxy.restore()
    wait_for(lambda: gate.up, 30, "the database to answer again", interval=0.1)
    assert gate.call("cookie store", lambda: history.get_session(1)) is None


def test_conflicts_and_local_databases_never_close_the_gate(proxied, tmp_path):
    assert not availability(proxied).lost(Conflict("conflicted", retryable=True))
    assert availability(proxied).up
    with open_database(str(tmp_path / "db")) as local:
        gate = Availability(local)
        assert not gate.lost(DatabaseError("disk trouble")) and gate.up


def _waiting_for_a_lock(url):
    import psycopg
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0] > 0


def test_a_batch_that_conflicts_with_another_writer_is_run_again_not_kept_as_unwritable(pg_url):
    import threading

    import orm

    class Values(orm.Schema):
        def attach(self, db: orm.Database) -> None:
            self.values = orm.Map(1, key="uint32", value="uint64")

    with orm.Database(pg_url) as db, orm.Database(pg_url.replace("?", "?application_name=other&")) as other:
        mine, theirs = Values.attach(db).values, Values.attach(other).values
        with db.begin(write=True) as txn:
            mine[txn, 1] = 0
        attempts = []

        def bump(txn, args):
            attempts.append(1)
            mine[txn, 1] = (mine[txn, 1] or 0) + len(args)

        writer = WriteBehind(db, delay=0.01, max_items=1000)  # no reactor: every write is flushed at once
        competing = other.begin(write=True)
        theirs[competing, 1] = 100
        assert theirs[competing, 1] == 100  # sent: the row is now locked by this open transaction
        flushing = threading.Thread(target=writer.append, args=(bump, None))
        flushing.start()  # reads the row, then waits for the competing writer's lock on it
        wait_for(lambda: attempts and _waiting_for_a_lock(pg_url), 10, "the batch to wait for the row's lock")
        competing.commit()  # the batch's update now conflicts (SERIALIZABLE): it must run again
        flushing.join(30)
        assert not flushing.is_alive()
        assert len(attempts) >= 2 and len(writer) == 0 and not writer.refused
        with db.begin() as txn:
            assert mine[txn, 1] == 101  # run again on the competing writer's result


def test_an_outage_stages_at_most_its_bound_and_refuses_logins_beyond_it_counted_and_logged_once(
        proxied, proxy, pg_url):
    service = CookieService(proxied)
    backend = CookieBackend(service, CookieConfig(database=DatabaseConfig(path=pg_url)))  # no reactor: flushed at once
    backend.outage_max = 3
    cookies = [backend.create(name="cbtid", max_age=3600, nbytes=16) for _ in range(5)]
    logged_in = cookies[0][1].value_hash
    assert backend.set_auth(logged_in, "alice", "user", "ticket", None, "realm1")
    proxy.cut()
    with pytest.raises(StoreUnavailable):
        backend.lookup(b"\0" * 32)  # the first read that meets the outage marks it down
    events: list = []
    globalLogPublisher.addObserver(events.append)
    refused_before = metrics.OUTAGE_REFUSALS._value.get()
    try:
        for _, cookie in cookies[1:4]:
            assert backend.set_auth(cookie.value_hash, "bob", "user", "ticket", None, "realm1")
        assert len(backend.writer) == 3
        for _, cookie in cookies[4:]:
            for _ in range(2):
                with pytest.raises(StoreUnavailable) as refused:
                    backend.set_auth(cookie.value_hash, "carol", "user", "ticket", None, "realm1")
                assert refused.value.error == "cfxstore.error.store_unavailable"
        # A login of a cookie already staged replaces its write: no growth, not refused.
        assert backend.set_auth(cookies[1][1].value_hash, "bob", "admin", "ticket", None, "realm1")
        # Logouts during the outage: each cookie's deletion is staged once, however often it is logged out.
        for _ in range(3):
            backend.delete(cookies[0][0])
        assert len(backend.writer) == 4
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert backend.outage_refused == 2 and metrics.OUTAGE_REFUSALS._value.get() - refused_before == 2
    assert sum("refusing new logins" in str(e.get("log_format")) for e in events) == 1
    proxy.restore()
    wait_for(lambda: backend.writer.availability.up, 30, "the database to answer again", interval=0.1)
    backend.flush()
    assert len(backend.writer) == 0
    with open_database(pg_url) as db:
        stored = CookieService(db)
        assert stored.lookup(cookies[0][0]) is None  # the logout's deletion was committed
        assert [stored.lookup(value).authid for value, _ in cookies[1:4]] == ["bob"] * 3
        assert stored.lookup(cookies[1][0]).authrole == "admin"
        assert stored.lookup(cookies[4][0]) is None  # a refused login binds nothing: the cookie stays anonymous


def test_history_writes_past_the_outage_bound_are_left_out_counted_and_logged_once(proxied, proxy, pg_url):
    import txaio
    txaio.use_twisted()
    from types import SimpleNamespace

    from cfxstore.router.realmstore import CfxRealmStore
    from test_cookiebackend import FakeReactor

    class Reactor(FakeReactor):
        """Nothing planned ever runs: the staged writes stay staged."""

        def addSystemEventTrigger(self, *args, **kwargs):  # noqa: N802
            pass

    store = CfxRealmStore(None, SimpleNamespace(), {"type": "cfxstore", "path": proxy.url() + "&timeout=2"},
                          reactor=Reactor(), defer_to_thread=lambda fn, *a: None)
    if store._history is None:
        store._opened(store._open())
    if store._run is None:
        pytest.skip("session history is off in the default realm store config")
    writer = store._writer
    writer.outage_max = 3
    proxy.cut()
    with pytest.raises(StoreUnavailable):
        writer.availability.call("history store", lambda: writer.db.begin().__enter__())
    assert not writer.availability.up
    events: list = []
    globalLogPublisher.addObserver(events.append)
    try:
        for sid in range(1, 7):
            details = SimpleNamespace(session=sid, realm="realm1", authid="alice", authrole="user",
                                      authmethod="ticket", authprovider="static", authextra=None, transport=None)
            store.store_session_joined(SimpleNamespace(), details)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert len(writer) == 3 and writer.outage_dropped["session joined"] == 3
    assert sum("leaving out new ones" in str(e.get("log_format")) for e in events) == 1
    assert set(store._joined) == {1, 2, 3}  # the ones left out are not taken for joined
    proxy.restore()
    wait_for(lambda: writer.availability.up, 30, "the database to answer again", interval=0.1)
    writer.flush()
    with open_database(pg_url) as db:
        history = SessionHistory(db)
        assert [s.session_id for s in history.sessions_by_authid("alice")] == [3, 2, 1]


def test_stopping_a_realm_store_commits_what_is_staged_off_the_reactor(reactor_thread, pg_url, proxy):
    from types import SimpleNamespace

    from cfxstore.router.realmstore import CfxRealmStore

    rt = reactor_thread
    store = CfxRealmStore(None, SimpleNamespace(), {"type": "cfxstore", "path": proxy.url() + "&timeout=30",
                                                    "buffer-flush": 60000}, reactor=rt.reactor)
    rt.call(store.start)
    details = SimpleNamespace(session=77, realm="realm1", authid="stopper", authrole="user", authmethod="ticket",
                              authprovider="static", authextra=None, transport=None)
    rt.call(store.store_session_joined, SimpleNamespace(), details)
    stopped: dict = {}
    proxy.stall()  # the commit waits for the database; the reactor must not
    try:
        rt.call(lambda: stopped.update(d=store.stop()))
        assert rt.call(lambda: "answered", timeout=5) == "answered"
        assert not stopped["d"].called
    finally:
        proxy.restore()
    wait_for(lambda: stopped["d"].called, 30, "the stop to commit", interval=0.05)
    with open_database(pg_url) as db:
        assert [s.session_id for s in SessionHistory(db).sessions_by_authid("stopper")] == [77]
