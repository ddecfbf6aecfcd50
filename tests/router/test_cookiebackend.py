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


def test_created_cookie_exists_at_once_and_is_committed_by_the_flush(service):
    reactor = FakeReactor()
    store = make_store(service, reactor)
    value, header = store.create()
    assert header == f"cbtid={value};max-age={7 * 86400}"
    assert store.exists(value)
    assert not service.exists(value)          # still buffered
    reactor.run()
    assert service.exists(value)
    assert service.lookup(value).value_hash == CookieService.hash_value(value)


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
    backend = CookieBackend(service, config, reactor, lambda fn, *a: handed.append((fn, a)) or Deferred())
    store = CfxCookieStore(backend, config)
    value, _ = store.create()
    store.setAuth(value, "alice", "user", "ticket", None, "realm1")
    reactor.run()                                # the batch is handed to the thread, not yet written
    assert handed and store.exists(value)
    assert store.delAuth(value)                  # commits the handed batch itself, then deletes
    assert not store.exists(value)
    assert not service.exists(value)
    fn, args = handed[0]
    fn(*args)                                    # the thread's late write must not resurrect it
    assert not service.exists(value)


def test_purge_on_startup_deletes_every_cookie(service):
    store = make_store(service, FakeReactor())
    values = [store.create()[0] for _ in range(3)]
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
