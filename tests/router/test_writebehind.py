"""The one write-behind of a database: batches, exactly-once, failure isolation, sharing."""

from __future__ import annotations

import orm
import pytest
from twisted.internet.defer import Deferred

from cfxstore.cookies.service import CookieService
from cfxstore.limits import MAX_AUTHID_BYTES, MAX_REALM_BYTES
from cfxstore.node.config import CookieConfig, DatabaseConfig
from cfxstore.realmstore.service import SessionHistory
from cfxstore.router.cookiebackend import CookieBackend
from cfxstore.router.cookiestore import CfxCookieStore
from cfxstore.router.services import NodeServices
from cfxstore.router.writebehind import WriteBehind, each
from test_cookiebackend import FakeReactor, in_thread

POISON = "\U0001F600" * 124  # 496 UTF-8 bytes: a name Crossbar's static auth accepts


@pytest.fixture
def table(db):
    class Items(orm.Schema):
        items: orm.Map

        def attach(self, db):
            self.items = orm.Map(1, key="str", value="cbor")

    return Items.attach(db).items


def make(db, max_items=100):
    reactor, handed = FakeReactor(), []

    def to_thread(fn, *args):
        handed.append((fn, args))
        return Deferred()

    writer = WriteBehind(db, delay=0.05, max_items=max_items, reactor=reactor, defer_to_thread=to_thread)
    return writer, reactor, handed


def put(table):
    def put_item(txn, kv):
        table[txn, kv[0]] = kv[1]
    return each(put_item)


def stored(db, table):
    with db.begin() as txn:
        return dict(table.select(txn))


def test_staged_writes_are_committed_in_one_batch_by_the_thread(db, table):
    writer, reactor, handed = make(db)
    for i in range(5):
        writer.append(put(table), (f"k{i}", i))
    assert stored(db, table) == {}
    reactor.run()
    fn, args = handed.pop()
    fn(*args)
    assert stored(db, table) == {f"k{i}": i for i in range(5)}


def test_a_later_write_with_the_same_key_replaces_the_staged_one(db, table):
    writer, reactor, handed = make(db)
    writer.stage(put(table), ("a", 1), "a")
    writer.stage(put(table), ("a", 2), "a")
    assert writer.pending("a") == ("a", 2) and len(writer) == 1
    writer.flush()
    assert stored(db, table) == {"a": 2}


def test_flush_writes_a_batch_the_thread_has_not_written_yet_exactly_once(db, table):
    writer, reactor, handed = make(db)
    writes = []

    def counted(txn, kv):
        writes.append(kv)
        table[txn, kv[0]] = kv[1]

    writer.append(each(counted), ("a", 1))
    reactor.run()
    writer.append(each(counted), ("b", 2))
    writer.flush()
    fn, args = handed.pop()
    fn(*args)
    assert writes == [("a", 1), ("b", 2)]
    assert stored(db, table) == {"a": 1, "b": 2}


def test_a_run_of_writes_with_the_same_apply_is_one_call(db, table):
    writer, reactor, handed = make(db)
    calls = []

    def put_many(txn, kvs):
        calls.append(len(kvs))
        table.put_many(txn, kvs)

    for i in range(3):
        writer.append(put_many, (f"a{i}", i))
    writer.append(put(table), ("b", 9))
    writer.append(put_many, ("c", 7))
    writer.flush()
    assert calls == [3, 1] and len(stored(db, table)) == 5


def test_a_full_buffer_is_handed_to_a_thread_at_once_never_written_on_the_staging_thread(db, table):
    writer, reactor, handed = make(db, max_items=3)
    for i in range(3):
        writer.append(put(table), (str(i), i))
    assert stored(db, table) == {} and len(handed) == 1   # no flush delay waited for, nothing written here
    assert not [call for call in reactor.calls if call.live]
    fn, args = handed[0]
    fn(*args)
    assert stored(db, table) == {"0": 0, "1": 1, "2": 2}


def test_a_write_that_can_never_be_stored_is_set_aside_and_the_others_are_committed(db, table):
    writer, reactor, handed = make(db)
    writer.append(put(table), ("before", 1))
    writer.append(put(table), ("x" * 600, 2))        # key longer than the engine allows
    writer.append(put(table), ("after", object()))   # CBOR cannot encode it
    writer.append(put(table), ("last", 3))
    writer.flush()
    assert stored(db, table) == {"before": 1, "last": 3}
    assert [what for what, _ in writer.refused] == ["put_item", "put_item"]
    assert "KeyTooLong" in writer.refused[0][1] and "ValueCodecError" in writer.refused[1][1]
    writer.append(put(table), ("next", 4))           # nothing is left blocking the buffer
    writer.flush()
    assert stored(db, table)["next"] == 4


def test_a_write_failing_for_want_of_a_writable_database_is_kept_for_the_next_batch(db, table):
    writer, reactor, handed = make(db)
    broken = [True]

    def flaky(txn, kv):
        if broken[0]:
            raise orm.DatabaseError("disk full")
        table[txn, kv[0]] = kv[1]

    writer.append(each(flaky), ("a", 1))
    writer.append(put(table), ("b", 2))
    writer.flush()
    assert stored(db, table) == {"b": 2} and len(writer) == 1 and not writer.refused
    broken[0] = False
    writer.flush()
    assert stored(db, table) == {"a": 1, "b": 2}


def backend_on(db, writer) -> CfxCookieStore:
    config = CookieConfig(database=DatabaseConfig(path=str(db.path)))
    return CfxCookieStore(CookieBackend(CookieService(db), config, writer=writer), config)


def test_a_thousand_cookies_are_stored_around_one_poisoned_login(db):
    service = CookieService(db)
    writer = WriteBehind(db, delay=0.05, max_items=10_000, reactor=FakeReactor(), defer_to_thread=in_thread)
    store = backend_on(db, writer)
    poisoned, _ = store.create()
    assert store.setAuth(poisoned, POISON, "user", "ticket", None, "realm1") is False  # refused where made
    values = []
    for i in range(1000):
        value, _ = store.create()
        assert store.setAuth(value, f"user{i}", "user", "ticket", None, "realm1")
        values.append(value)
    # A record that slips past the check (here: staged by hand) is set aside at commit, alone.
    writer.append(lambda txn, _: service.schema.cookies.__setitem__((txn, "not-a-uuid"), None), None)
    writer.flush()
    assert len(writer.refused) == 1
    assert all(service.lookup(v).authid == f"user{i}" for i, v in enumerate(values))
    assert service.lookup(poisoned) is None                # its connection's anonymous cookie, never stored
    # Revocation and logout keep working.
    assert store.backend.revoke_authid("user0")
    assert service.lookup(values[0]) is None
    assert store.delAuth(values[1]) and service.lookup(values[1]) is None


def test_a_login_with_an_unencodable_authextra_is_refused_alone(db):
    writer = WriteBehind(db, delay=0.05, max_items=100, reactor=FakeReactor(), defer_to_thread=in_thread)
    store = backend_on(db, writer)
    value, _ = store.create()
    assert store.setAuth(value, "alice", "user", "ticket", {"x": object()}, "realm1") is False
    assert store.setAuth(value, "alice", "user", "ticket", {"x": [1, 2]}, "realm1") is True
    writer.flush()
    assert CookieService(db).lookup(value).authextra == {"x": [1, 2]}


def test_the_longest_authid_the_limits_allow_fits_every_authid_index(db):
    authid = "\U0001F600" * (MAX_AUTHID_BYTES // 4) + "a" * (MAX_AUTHID_BYTES % 4)
    assert len(authid.encode()) == MAX_AUTHID_BYTES
    service = CookieService(db)
    value, _ = service.create()
    assert service.set_auth(value, authid, "user", "ticket", None, "realm1")
    assert service.cookies_by_authid(authid)[0].authid == authid
    history = SessionHistory(db)
    realm = "\U0001F600" * (MAX_REALM_BYTES // 4)
    history.session_joined(session_id=1, realm=realm, authid=authid, authrole="user", authmethod="x")
    assert history.sessions_by_authid(authid)[0].authid == authid


def test_cookie_and_realm_stores_of_a_database_share_one_writer(tmp_path):
    node = NodeServices(str(tmp_path / "db"), DatabaseConfig(path=str(tmp_path / "db")))
    reactor = FakeReactor()
    reactor.addSystemEventTrigger = lambda *a: None
    first = node.writer(delay=0.5, max_items=1000, reactor=reactor, defer_to_thread=in_thread)
    second = node.writer(delay=0.1, max_items=5000, reactor=reactor, defer_to_thread=in_thread)
    assert first is second and (first.delay, first.max_items) == (0.1, 1000)
    node.db.close()


@pytest.mark.parametrize("audit_first", [True, False])
def test_the_login_audit_joins_the_writer_without_changing_when_it_commits(tmp_path, audit_first):
    """The login audit names no delay: a node's flush_ms (here a long one) stays what the stores set."""
    node = NodeServices(str(tmp_path / "db"), DatabaseConfig(path=str(tmp_path / "db")))
    reactor = FakeReactor()
    reactor.addSystemEventTrigger = lambda *a: None
    joins = [lambda: node.writer(delay=None, max_items=10_000, reactor=reactor, defer_to_thread=in_thread),
             lambda: node.writer(delay=60.0, max_items=1000, reactor=reactor, defer_to_thread=in_thread)]
    writers = [join() for join in (joins if audit_first else joins[::-1])]
    assert writers[0] is writers[1] and (writers[0].delay, writers[0].max_items) == (60.0, 1000)
    node.db.close()


def threaded(db):
    """A writer whose batches go to 'threads' the test runs (the latest first: the worst case)."""
    reactor, handed = FakeReactor(), []

    def to_thread(fn, *args):
        d = Deferred()
        handed.append((fn, args, d))
        return d

    def finish_all() -> None:
        while handed:
            fn, args, d = handed.pop()
            try:
                d.callback(fn(*args))
            except Exception as exc:  # what a thread's Deferred carries
                d.errback(exc)
            reactor.run()

    return WriteBehind(db, delay=0.05, max_items=100, reactor=reactor, defer_to_thread=to_thread), reactor, finish_all


def test_batches_that_outlast_the_flush_delay_commit_in_staging_order(db, table):
    writer, reactor, finish_all = threaded(db)
    committed = []

    def log_round(txn, n):
        committed.append(n)
        table[txn, f"log{n}"] = n

    for n in range(5):  # the flush is due five times while the first batch is still being written
        writer.stage(put(table), ("cookie", n), "cookie")
        writer.append(each(log_round), n)
        reactor.run()
    finish_all()
    assert committed == [0, 1, 2, 3, 4]
    assert stored(db, table)["cookie"] == 4 and len(writer) == 0


def test_drain_commits_everything_staged_before_and_during_it_then_fires(db, table):
    writer, reactor, finish_all = threaded(db)
    writer.append(put(table), ("a", 1))
    reactor.run()  # in flight
    writer.append(put(table), ("b", 2))
    done = writer.drain()
    writer.stage(put(table), ("c", 3), "c")  # acknowledged while the worker stops
    assert not done.called
    finish_all()
    assert done.called and stored(db, table) == {"a": 1, "b": 2, "c": 3} and len(writer) == 0


def test_drain_gives_up_when_the_database_does_not_take_the_writes(db, table):
    writer, reactor, finish_all = threaded(db)

    def refused(txn, kv):
        raise orm.DatabaseError("disk full")

    writer.append(each(refused), ("a", 1))
    done = writer.drain()
    finish_all()
    assert done.called and len(writer) == 1


def test_a_session_that_leaves_before_its_join_is_committed_is_written_once_as_it_ended(tmp_path):
    import txaio
    from types import SimpleNamespace

    txaio.use_twisted()
    from cfxstore.router.realmstore import CfxRealmStore

    class Reactor(FakeReactor):
        def addSystemEventTrigger(self, *args, **kwargs):  # noqa: N802
            pass

    store = CfxRealmStore(None, SimpleNamespace(), {"type": "cfxstore", "path": str(tmp_path / "db")},
                          reactor=Reactor(), defer_to_thread=lambda fn, *a: Deferred())
    writer, history = store._writer, store._history
    written: list = []
    store._put_session = lambda txn, sessions: (written.append(("joined", len(sessions))),
                                                history.put_joined(txn, sessions))
    store._put_left = lambda txn, left: (written.append(("left", len(left))), history.put_left(txn, left))

    def session(sid):
        return SimpleNamespace(_session_details=SimpleNamespace(session=sid))

    for sid in (1, 2):
        store.store_session_joined(session(sid), SimpleNamespace(
            session=sid, realm="realm1", authid=f"user{sid}", authrole="user", authmethod="ticket",
            authprovider="static", authextra=None, transport=None))
    store.store_session_left(session(1), None)
    assert len(writer) == 2  # session 1's join became its one write
    writer.flush()
    assert written == [("joined", 2)]
    # A leave after its join was committed updates the stored record.
    store.store_session_left(session(2), None)
    writer.flush()
    assert written == [("joined", 2), ("left", 1)]
    for sid in (1, 2):
        stored = history.get_session(sid)
        assert stored.left_at is not None and stored.left_at >= stored.joined_at
    with store._history.db.begin() as txn:
        assert history.schema.sessions.check_indexes(txn) == []
