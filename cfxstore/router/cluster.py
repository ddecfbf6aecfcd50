"""Every router process hears of cookie deletions made anywhere, and closes those cookies' connections.

A logout, revocation or principal change in any process (a router, the CLI,
a management API, an import) announces the deleted cookies' value hashes
when it commits (cfxstore/cookies/announce.py). Each router process hears of
them - from its own process directly, from other nodes of a PostgreSQL
database by LISTEN (pushed by the server), from other processes of an LMDB
database by polling its deletion file every ``POLL_INTERVAL`` seconds - and,
on the reactor thread, refuses those cookies from then on and closes the
connections that presented them: the same close a local revocation makes.
When an authid's logins end, the cookies of it this process only holds in
memory (cached, or staged and not committed) are refused and closed the same
way: their writes are dropped here, and CookieService.put leaves out any that
reach the database anyway.
The listening connection dropping, or failing to open again, is also how a
node first notices that a PostgreSQL database is gone (availability.py).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

import orm
from cfxstore.cookies import deletionlog
from cfxstore.cookies.announce import CHANNEL, ENDED_PREFIX, on_deleted, on_logins_ended
from cfxstore.router.cookiebackend import CookieBackend

log = Logger()
#: Seconds between two looks at an LMDB database's deletion file (a stat; a short read when it grew).
POLL_INTERVAL = 0.1


def forget_cookie(backend: CookieBackend, value_hash: bytes) -> int:
    """Refuse a cookie deleted elsewhere and close its connections here; returns how many."""
    backend.refuse(value_hash)
    return backend.close_connections(value_hash)


def _forget_all(backend: CookieBackend, value_hashes: Iterable[bytes]) -> None:
    for value_hash in value_hashes:
        forget_cookie(backend, value_hash)


def follow_deletions(backend: CookieBackend, db: orm.Database, reactor: Any) -> Callable[[], None]:
    """Start hearing of cookie deletions on db; returns the function that stops it.

    On PostgreSQL the server closing the idle listening connection, or the
    listener failing to open one again, is the first sign of an outage: it
    marks the database down at once, where otherwise the next request would
    wait for a pooled connection for the URL's ``timeout``, stalling the reactor.
    """
    def ended(authid: str) -> None:
        _forget_all(backend, backend.logins_ended(authid))

    stops = [on_deleted(db, lambda hashes: reactor.callFromThread(_forget_all, backend, hashes)),
             on_logins_ended(db, lambda authid: reactor.callFromThread(ended, authid))]
    if db.notifies_other_processes:
        def heard(payload: str) -> None:
            if payload.startswith(ENDED_PREFIX):
                reactor.callFromThread(ended, payload[len(ENDED_PREFIX):])
                return
            try:
                value_hash = bytes.fromhex(payload)
            except ValueError:
                log.warn("cfxstore: ignored a malformed cookie-deleted notification")
                return
            reactor.callFromThread(forget_cookie, backend, value_hash)

        def lost(exc: orm.DatabaseError) -> None:
            # Deletions announced while not listening are missed: the cache must not outlive them.
            reactor.callFromThread(backend.forget_cached)
            backend.writer.availability.lost(exc)

        stops.append(db.listen(CHANNEL, heard, on_error=lost).stop)
    path = deletionlog.log_path(db)
    if path is not None:
        follower = deletionlog.Follower(path)

        def poll() -> None:
            try:
                _forget_all(backend, follower.poll())
            except OSError as exc:
                log.warn("cfxstore: reading the cookie deletion file failed: {error}", error=str(exc))

        loop = LoopingCall(poll)
        loop.clock = reactor
        loop.start(POLL_INTERVAL, now=False)
        stops.append(lambda: loop.stop() if loop.running else None)

    def stop() -> None:
        for fn in stops:
            fn()
        stops.clear()

    reactor.addSystemEventTrigger("before", "shutdown", stop)
    return stop
