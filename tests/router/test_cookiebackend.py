"""The cookie backend on a real database: write-behind, caching, deletion, expiry."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, succeed

import cfxstore.router.cookiebackend as cookiebackend
import orm
from cfxstore.cookies import deletionlog
from cfxstore.cookies.announce import on_deleted
from cfxstore.cookies.service import CookieService
from cfxstore.node.config import CookieConfig, DatabaseConfig
from cfxstore.router.cookiebackend import CookieBackend
from cfxstore.router.cookiestore import CfxCookieStore
from cfxstore.timeutil import NS_PER_SECOND
from router_harness import wait_for


class FakeReactor:
    """callLater queues; run() fires what is due (all of it)."""

    def __init__(self) -> None:
        self.calls: list = []

    def callLater(self, delay, fn, *args):  # noqa: N802
        call = Call(fn, args)
        self.calls.append(call)
        return call

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for call in calls:
            if call.live:
                call.live = False
                call.fn(*call.args)


class Call:
    def __init__(self, fn, args) -> None:
        self.fn, self.args, self.live = fn, args, True

    def active(self) -> bool:
        return self.live

    def cancel(self) -> None:
        self.live = False


def in_thread(fn, *args):
    return succeed(fn(*args))


@pytest.fixture
def service(db):
    return CookieService(db)


def make_store(service, reactor, **overrides) -> CfxCookieStore:
    config = CookieConfig(database=DatabaseConfig(path=str(service.db.path)), **overrides)
    return CfxCookieStore(CookieBackend(service, config, reactor, in_thread), config)


def test_an_anonymous_cookie_is_never_stored_and_its_login_is_committed_by_the_flush(service):
    reactor = FakeReactor()
    store = make_store(service, reactor)
    value, header = store.create()
    assert header == f"cbtid={value};max-age={7 * 86400}"
    assert not store.exists(value)            # presented again, anonymous: it would be replaced
    reactor.run()
    assert not service.exists(value)
    assert store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert store.exists(value)
    assert not service.exists(value)          # still buffered
    reactor.run()
    assert service.exists(value)
    assert service.lookup(value).value_hash == CookieService.hash_value(value)


def test_a_login_binds_only_a_cookie_issued_here_and_never_rebinds_another_login(service):
    store = make_store(service, FakeReactor())
    planted, _ = service.create()              # anonymous, in the database (as an older version left them)
    assert not store.exists(planted)
    assert not store.setAuth(planted, "alice", "user", "ticket", None, "realm1")
    assert not store.setAuth("never-issued-value", "alice", "user", "ticket", None, "realm1")
    mallory, _ = store.create()
    assert store.setAuth(mallory, "mallory", "user", "ticket", None, "realm1")
    # Mallory's logged-in cookie planted in Alice's browser: Alice's login does not take it over.
    assert not store.setAuth(mallory, "alice", "user", "ticket", None, "realm1")
    assert store.getAuth(mallory)[0] == "mallory"
    # The same principal logging in again may refresh its role.
    assert store.setAuth(mallory, "mallory", "admin", "ticket", None, "realm1")
    assert store.getAuth(mallory)[1] == "admin"
    assert service.lookup(planted).authid is None


def test_a_cookie_issued_before_its_logins_were_ended_is_not_bound_one_issued_after_is(service):
    """A login whose connection opened before this process heard that its authid's logins ended may have had
    its credential checked before the change: its cookie stays anonymous. A connection opened after binds."""
    reactor = FakeReactor()
    store = make_store(service, reactor)
    before, _ = store.create()
    store.backend.logins_ended("alice")
    after, _ = store.create()
    assert not store.setAuth(before, "alice", "user", "ticket", None, "realm1")
    assert store.setAuth(before, "bob", "user", "ticket", None, "realm1")  # only alice's logins ended
    assert store.setAuth(after, "alice", "user", "ticket", None, "realm1")
    reactor.run()
    assert service.lookup(after).authid == "alice" and service.lookup(before).authid == "bob"


def test_an_issued_cookie_is_forgotten_when_its_connection_closes_without_a_login(service):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    connection = object()
    store.addProto(value, connection)
    assert store.dropProto(value, connection) == 0
    assert not store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert store.backend._issued == {}


class Connection:
    """What the backend reads of a WebSocket connection, recording the closes it is sent."""

    peer = "tcp4:192.0.2.7:50000"
    http_headers = {"user-agent": "Browser/1.0 " + "x" * 600}

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []

    def sendClose(self, code: int, reason: str) -> None:  # noqa: N802
        self.closes.append((code, reason))


def test_a_login_records_its_device_and_a_cookie_login_its_time(service, monkeypatch):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    store.addProto(value, Connection())
    assert store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    store.backend.flush()
    cookie = service.lookup(value)
    assert cookie.peer == "tcp4:192.0.2.7:50000"
    assert cookie.user_agent.startswith("Browser/1.0 ") and len(cookie.user_agent) == 500
    first = cookie.last_login
    assert first is not None
    monkeypatch.setattr(cookiebackend, "LAST_LOGIN_EVERY", 0)
    later = Connection()
    later.peer = "tcp6:[2001:db8::1]:443"
    fresh = make_store(service, FakeReactor())
    fresh.addProto(value, later)
    assert fresh.getAuth(value)[0] == "alice"
    fresh.backend.flush()
    cookie = service.lookup(value)
    assert cookie.peer == "tcp6:[2001:db8::1]:443" and cookie.last_login > first


def test_login_is_reported_as_cookie_auth_and_survives_a_new_backend(service):
    reactor = FakeReactor()
    store = make_store(service, reactor)
    value, _ = store.create()
    assert store.getAuth(value) == (None, None, None, None, None)
    assert store.setAuth(value, "alice", "user", "ticket", {"k": 1}, "realm1")
    assert store.getAuth(value) == ("alice", "user", "cookie", "realm1", {"k": 1})
    store.backend.flush()
    fresh = make_store(service, FakeReactor())
    assert fresh.getAuth(value) == ("alice", "user", "cookie", "realm1", {"k": 1})
    assert service.lookup(value).authmethod == "ticket"


def test_unchanged_login_is_not_rewritten(service):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    assert store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert not store.setAuth(value, "alice", "user", "ticket", None, "realm1")


def test_logout_deletes_even_a_cookie_still_buffered(service):
    reactor = FakeReactor()
    store = make_store(service, reactor)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert store.delAuth(value)
    reactor.run()
    assert not store.exists(value)
    assert not service.exists(value)


def test_revoke_authid_deletes_its_cookies_and_keeps_others(service):
    store = make_store(service, FakeReactor())
    mine = [store.create()[0] for _ in range(3)]
    other = store.create()[0]
    for value in mine:
        store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    store.setAuth(other, "bob", "user", "ticket", None, "realm1")
    assert len(store.backend.revoke_authid("alice")) == 3
    assert not any(store.exists(v) for v in mine)
    assert store.getAuth(other)[0] == "bob"


def test_expired_cookie_does_not_exist(service, monkeypatch):
    store = make_store(service, FakeReactor(), max_age=10)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    now = cookiebackend.now_ns()
    monkeypatch.setattr(cookiebackend, "now_ns", lambda: now + 11 * NS_PER_SECOND)
    assert not store.exists(value)
    assert store.getAuth(value) == (None, None, None, None, None)


def test_deletion_by_another_process_is_seen_after_the_cache_time(service, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(cookiebackend, "monotonic", lambda: clock[0])
    store = make_store(service, FakeReactor(), cache_ttl=5.0)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    store.backend.flush()
    service.revoke_authid("alice")               # as the CLI does, behind the backend's back
    assert store.exists(value)                   # still served from memory ...
    clock[0] += 5.0
    assert not store.exists(value)               # ... until cache_ttl has passed


def test_full_buffer_is_committed_at_once(service):
    store = make_store(service, FakeReactor(), max_pending=3)
    values = [store.create()[0] for _ in range(3)]
    for i, value in enumerate(values):
        assert store.setAuth(value, f"user{i}", "user", "ticket", None, "realm1")
    assert all(service.exists(v) for v in values)


def test_connections_are_tracked_per_cookie_even_after_logout(service):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    a, b = object(), object()
    assert store.addProto(value, a) == 1
    assert store.addProto(value, b) == 2
    store.delAuth(value)
    assert set(store.getProtos(value)) == {a, b}
    assert store.dropProto(value, a) == 1


def test_logout_while_a_batch_is_being_written_by_the_thread(service):
    reactor = FakeReactor()
    handed: list = []
    config = CookieConfig(database=DatabaseConfig(path=str(service.db.path)))
    backend = CookieBackend(service, config, reactor, lambda fn, *a: handed.append((fn, a, Deferred())) or handed[-1][2])
    store = CfxCookieStore(backend, config)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    reactor.run()                                # the batch is handed to the thread, not yet written
    assert len(handed) == 1 and store.exists(value)
    assert store.delAuth(value)                  # refused at once; its deletion waits for the batch in flight
    assert not store.exists(value)
    assert len(handed) == 1
    fn, args, done = handed[0]
    fn(*args)                                    # the thread writes the login ...
    assert service.exists(value)
    done.callback(None)                          # ... and when it is done the deletion goes at once
    reactor.run()
    assert len(handed) == 2
    fn, args, done = handed[1]
    fn(*args)
    done.callback(None)
    assert not service.exists(value)             # the earlier login did not resurrect it


def test_a_logout_does_not_wait_for_flush_ms(service):
    reactor = FakeReactor()
    store = make_store(service, reactor, flush_ms=60_000)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert not service.exists(value)             # a login waits for flush_ms ...
    assert store.delAuth(value)
    assert not service.exists(value) and not store.exists(value)
    assert service.lookup(value) is None and len(store.backend.writer) == 0  # ... a logout commits both now


def test_purge_on_startup_deletes_every_cookie(service):
    store = make_store(service, FakeReactor())
    values = [store.create()[0] for _ in range(3)]
    for value in values:
        store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    assert store.backend.purge_all() == 3
    assert not any(service.exists(v) for v in values)


def test_a_logout_the_database_refuses_is_refused_in_every_process_at_once(tmp_path):
    path = tmp_path / "db"
    with orm.Database(path, maxsize=2**24) as db:
        service = CookieService(db)
        value, _ = service.create()
        assert service.set_auth(value, "alice", "user", "ticket", None, "realm1")
    # Not "unavailable": a database that refuses the write (read-only here; a full map alike).
    with orm.Database(path, readonly=True) as readonly:
        heard: list = []
        stop = on_deleted(readonly, heard.append)       # e.g. another transport's backend in this process
        other_process = deletionlog.Follower(deletionlog.log_path(readonly), pid=0)
        store = make_store(CookieService(readonly), FakeReactor())
        assert store.getAuth(value)[0] == "alice"
        assert store.delAuth(value)                      # Crossbar's onLeave gets no exception
        assert store.getAuth(value) == (None, None, None, None, None)
        value_hash = CookieService.hash_value(value)
        assert heard == [[value_hash]]
        assert other_process.poll() == [value_hash]
        # The deletion waits with the staged writes for a database that takes it.
        assert CookieService(readonly).lookup(value) is not None
        assert len(store.backend.writer) == 1
        stop()


def test_a_cookie_deleted_elsewhere_while_a_new_version_is_staged_stays_deleted(service, monkeypatch):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    assert store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    store.backend.flush()
    monkeypatch.setattr(cookiebackend, "LAST_LOGIN_EVERY", 0)
    assert store.getAuth(value)[0] == "alice"            # notes the device's login: staged
    assert store.setAuth(value, "alice", "admin", "ticket", None, "realm1")  # a refreshed role: staged
    service.revoke_authid("alice")                       # another process, not heard of yet
    store.backend.flush()
    assert service.lookup(value) is None


def test_a_new_login_stays_new_when_a_version_is_staged_over_it(service, monkeypatch):
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    assert store.setAuth(value, "alice", "user", "ticket", None, "realm1")   # staged, not committed
    monkeypatch.setattr(cookiebackend, "LAST_LOGIN_EVERY", 0)
    assert store.setAuth(value, "alice", "admin", "ticket", None, "realm1")
    store.backend.flush()
    assert service.lookup(value).authrole == "admin"


@pytest.fixture
def pg_service():
    import pg
    from cfxstore.database import open_database

    for url in pg.private_url():
        db = open_database(url)
        try:
            yield CookieService(db)
        finally:
            db.close()


def _stored_login(service, authid: str) -> str:
    value, cookie = service.new()
    cookie = service.login(cookie, authid=authid, authrole="user", authmethod="ticket", authextra=None,
                           authrealm="realm1")
    service.transact(lambda txn: service.put(txn, [cookie]))
    return value


@pytest.fixture
def guarded(reactor_thread):
    """The guard installed on the test reactor's thread, refusing the cookie read there; removed afterwards."""
    from orm.engine.hooks import reactor_guard

    sites: list[str] = []
    reactor_guard.install(reactor_thread.thread.ident, "cfxstore",
                          ("cfxstore.router.cookiebackend:CookieBackend._get",), sites.append)
    try:
        yield sites
    finally:
        reactor_guard.thread = None


def test_on_postgres_a_cold_cookie_is_read_off_the_reactor_once_and_kept_until_deleted(
        reactor_thread, guarded, pg_service):
    value = _stored_login(pg_service, "alice")
    rt = reactor_thread.reactor
    config = CookieConfig(database=DatabaseConfig(path=pg_service.db.path), cache_ttl=0.001)
    store = reactor_thread.call(lambda: CfxCookieStore(CookieBackend(pg_service, config, rt, in_thread), config))
    # On the reactor a lookup that would wait for the database fails under the guard ...
    with pytest.raises(orm.ReactorBlocked, match="CookieBackend._get"):
        reactor_thread.call(store.getAuth, value)
    assert guarded == ["cfxstore.router.cookiebackend:CookieBackend._get.<locals>.read "
                       "(entered at cfxstore.router.cookiestore:CfxCookieStore.getAuth)"]

    # ... the handshake reads it first in the store's threads, then every lookup is answered from memory.
    def handshake(value: str):
        d = store.prefetch(value)
        assert d is not None
        return d.addCallback(lambda _: (store.exists(value), store.getAuth(value), store.fetched(value)))

    exists, auth, _ = reactor_thread.call(handshake, value)
    assert exists and auth[:3] == ("alice", "user", "cookie")
    # Kept well past cache_ttl (a PostgreSQL node hears every deletion): no second read, none on the reactor.
    assert reactor_thread.call(store.prefetch, value) is None
    assert reactor_thread.call(store.getAuth, value)[0] == "alice"
    # An unknown value is read off the reactor too, and found to be no cookie.
    assert reactor_thread.call(lambda: handshake("x" * 32))[:2] == (False, (None,) * 5)
    # A deletion heard (cluster.py) refuses it at once, without a read.
    reactor_thread.call(store.backend.refuse, CookieService.hash_value(value))
    assert reactor_thread.call(store.prefetch, value) is None
    assert reactor_thread.call(store.getAuth, value) == (None,) * 5


def test_a_router_reads_a_cold_cookie_off_the_reactor_on_lmdb_too(reactor_thread, guarded, service):
    value = _stored_login(service, "bob")
    config = CookieConfig(database=DatabaseConfig(path=str(service.db.path)))
    store = reactor_thread.call(lambda: CfxCookieStore(
        CookieBackend(service, config, reactor_thread.reactor, in_thread, reads_off_reactor=True), config))
    assert reactor_thread.call(store.prefetch, value) is None   # the read done, in a thread
    assert reactor_thread.call(lambda: store.getAuth(value)[0]) == "bob"
    reactor_thread.call(store.fetched, value)
    assert guarded == []


@pytest.mark.parametrize("engine", ["lmdb", "postgres"])
def test_a_logout_refuses_the_cookie_at_once_and_its_deletion_is_committed_off_the_reactor(
        reactor_thread, guarded, engine, request):
    from twisted.internet import threads

    service = request.getfixturevalue("service" if engine == "lmdb" else "pg_service")
    value = _stored_login(service, "carol")
    config = CookieConfig(database=DatabaseConfig(path=str(service.db.path)), flush_ms=60_000)
    store = reactor_thread.call(lambda: CfxCookieStore(
        CookieBackend(service, config, reactor_thread.reactor, threads.deferToThread), config))
    assert reactor_thread.call(store.delAuth, value) is True
    # Nothing written on the reactor; on PostgreSQL nothing read there either (a cookie this process
    # has not read is live as far as it can tell); on LMDB the read is inline and named.
    reads = ["cfxstore.router.cookiebackend:CookieBackend._get.<locals>.read "
             "(entered at cfxstore.router.cookiestore:CfxCookieStore.delAuth)"]
    assert guarded == ([] if engine == "postgres" else reads)
    assert reactor_thread.call(store.getAuth, value) == (None,) * 5
    wait_for(lambda: service.lookup(value) is None, 10, "the deletion to be committed", interval=0.02)


def test_closing_a_deleted_cookies_connections_counts_those_an_earlier_close_finished(service):
    # A revocation's own announcement closes the connections first; their closes may complete (and the
    # connections be forgotten) before the revocation counts what it closed.
    store = make_store(service, FakeReactor())
    value, _ = store.create()
    first, second = Connection(), Connection()
    store.addProto(value, first)
    store.addProto(value, second)
    value_hash = CookieService.hash_value(value)
    backend = store.backend
    assert backend.close_connections(value_hash) == 2
    store.dropProto(value, first)
    store.dropProto(value, second)
    assert backend.protos(value_hash) == []
    assert backend.close_connections(value_hash) == 2
    assert first.closes == second.closes == [(cookiebackend.CLOSE_CODE, cookiebackend.CLOSE_REASON)]
    late = Connection()
    store.addProto(value, late)
    assert backend.close_connections(value_hash) == 3
    assert late.closes == [(cookiebackend.CLOSE_CODE, cookiebackend.CLOSE_REASON)]
    assert backend.close_connections(CookieService.hash_value("never-issued")) == 0


def test_on_lmdb_the_guard_fails_reads_and_writes_on_the_reactor(service):
    # A local write may wait for another process's write lock, a local read for the disk: both refused.
    import threading

    from orm.engine.hooks import reactor_guard

    named: list[str] = []
    reactor_guard.install(threading.get_ident(), "cfxstore", ("*",), named.append)
    try:
        with pytest.raises(orm.ReactorBlocked, match="CookieService.lookup"):
            service.lookup("no-such-cookie")
        with pytest.raises(orm.ReactorBlocked, match="CookieService"):
            service.revoke_authid("alice")
    finally:
        reactor_guard.thread = None
    assert named == ["cfxstore.cookies.service:CookieService.lookup",
                     "cfxstore.service:Service.transact (entered at cfxstore.cookies.service:CookieService.revoke_authid)"]
