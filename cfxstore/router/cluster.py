"""Router clusters: nodes sharing one PostgreSQL database hear of each other's cookie deletions.

A logout or revocation on any node (or by the CLI) commits a notification
with the deleted cookies' value hashes (cfxstore/cookies/announce.py). Each
node listens (PostgreSQL LISTEN, pushed by the server) and, on the reactor
thread, drops those cookies from its cache and closes the connections that
presented them - the same close a local revocation makes. The listening
connection dropping, or failing to open again, is also how a node first
notices that the database is gone (availability.py).
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

import orm
from cfxstore.cookies.announce import CHANNEL
from cfxstore.router.cookiebackend import CookieBackend
from cfxstore.router.revoke import CLOSE_CODE, CLOSE_REASON

log = Logger()


def forget_cookie(backend: CookieBackend, value_hash: bytes) -> int:
    """Drop a cookie deleted elsewhere from this node and close its connections; returns how many."""
    backend._cache.pop(value_hash, None)
    protos = backend.protos(value_hash)
    for proto in protos:
        proto.sendClose(CLOSE_CODE, CLOSE_REASON)
    return len(protos)


def follow_deletions(backend: CookieBackend, db: orm.Database, reactor: Any) -> orm.Subscription:
    """Start listening for cookie deletions on db (a PostgreSQL database); returns the subscription.

    The server closing the idle listening connection, or the listener failing
    to open one again, is the first sign of an outage: it marks the database
    down at once, where otherwise the next request would wait for a pooled
    connection for the URL's ``timeout``, stalling the reactor.
    """
    def heard(payload: str) -> None:
        try:
            value_hash = bytes.fromhex(payload)
        except ValueError:
            log.warn("cfxstore: ignored a malformed cookie-deleted notification")
            return
        reactor.callFromThread(forget_cookie, backend, value_hash)

    def lost(exc: orm.DatabaseError) -> None:
        backend.writer.availability.lost(exc)

    listener = db.listen(CHANNEL, heard, on_error=lost)
    reactor.addSystemEventTrigger("before", "shutdown", listener.stop)
    return listener

