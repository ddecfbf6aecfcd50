"""Router clusters: nodes sharing one PostgreSQL database hear of each other's cookie deletions.

A logout or revocation on any node (or by the CLI) commits a notification
with the deleted cookies' value hashes (cfxstore/cookies/announce.py). Each
node listens (PostgreSQL LISTEN, pushed by the server) and, on the reactor
thread, drops those cookies from its cache and closes the connections that
presented them - the same close a local revocation makes. The listening
connection dropping is also how a node first notices that the database is
gone (availability.py).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet import task
from twisted.logger import Logger

from cfxstore.cookies.announce import CHANNEL
from cfxstore.router.availability import Availability
from cfxstore.router.cookiebackend import CookieBackend
from cfxstore.router.revoke import CLOSE_CODE, CLOSE_REASON
from orm.errors import DatabaseError

log = Logger()
WATCH_SECONDS = 0.25  # how often the listener's connection state is looked at (a flag, no database call)


def forget_cookie(backend: CookieBackend, value_hash: bytes) -> int:
    """Drop a cookie deleted elsewhere from this node and close its connections; returns how many."""
    backend._cache.pop(value_hash, None)
    protos = backend.protos(value_hash)
    for proto in protos:
        proto.sendClose(CLOSE_CODE, CLOSE_REASON)
    return len(protos)


def follow_deletions(backend: CookieBackend, db: Any, reactor: Any) -> Any:
    """Start listening for cookie deletions on db (a PostgreSQL database); returns the listener."""
    engine = db._live().engine

    def heard(payload: str) -> None:
        try:
            value_hash = bytes.fromhex(payload)
        except ValueError:
            log.warn("cfxstore: ignored a malformed cookie-deleted notification")
            return
        reactor.callFromThread(forget_cookie, backend, value_hash)

    listener = engine.listen(CHANNEL, heard)
    reactor.addSystemEventTrigger("before", "shutdown", listener.stop)
    watch = task.LoopingCall(_watch(listener, backend.writer.availability))
    watch.clock = reactor
    watch.start(WATCH_SECONDS, now=False)
    reactor.addSystemEventTrigger("before", "shutdown", watch.stop)
    return listener


def _watch(listener: Any, availability: Availability) -> Callable[[], None]:
    """A check that marks the database down as soon as the listening connection drops.

    The server closing that idle connection is the first sign of an outage;
    without it the first request after one would wait for a pooled
    connection for the URL's ``timeout``, stalling the reactor.
    """
    listening = False

    def check() -> None:
        nonlocal listening
        ready = listener.ready.is_set()
        if listening and not ready:
            availability.lost(DatabaseError("the listening connection to the database was lost"))
        listening = ready

    return check
