"""Database calls a router makes off the reactor thread: one bounded pool of threads per database and process.

On PostgreSQL every call is a network round trip, and on LMDB a write may
wait for another process's write lock (and a read for the disk): credential
reads, history reads, revocations and attaching the schema run in the pool
on either engine, and the reactor goes on serving every other connection
meanwhile. While the database
is known to be unreachable a call raises StoreUnavailable at once, before any
thread is asked (availability.py); an outage a call meets marks it down.
Beyond ``WAITING`` calls waiting for a thread, a call is refused at once
(PoolBusy) instead of queueing without bound.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred, succeed

from cfxstore.registry import Slot, registry
from cfxstore.router.availability import Availability, StoreUnavailable, availability
from cfxstore.router.verifypool import PoolBusy, VerifyPool

#: Threads per database making calls off the reactor, and calls that may wait for one beyond them.
THREADS = 4
WAITING = 1_000


class DatabaseCalls:
    """Runs one database's calls where they do not hold up the reactor."""

    def __init__(self, db: Any, reactor: Any, *, inline: bool = False) -> None:
        """``inline``: every call runs on the calling thread, for code driven by a test clock instead of a
        running reactor (a router never asks for it)."""
        self.availability: Availability = availability(db)
        self._pool = None if inline else VerifyPool(reactor, THREADS, WAITING, name="cfxstore-db-calls")

    def call(self, store: str, fn: Callable[..., Any], *args: Any) -> Any:
        """A Deferred of fn(*args), called in the pool (its result, for an ``inline`` one).

        StoreUnavailable (naming ``store``) at once while the database is down,
        or in the Deferred when fn meets an outage; PoolBusy at once when the
        pool's queue is full.
        """
        self.availability.check(store)
        if self._pool is None:
            return self.availability.call(store, lambda: fn(*args))
        return self._pool.run(self.availability.call, store, lambda: fn(*args))

    def deferred(self, store: str, fn: Callable[..., Any], *args: Any) -> Deferred:
        """``call`` as a Deferred always, a full pool refused as StoreUnavailable (for WAMP procedures)."""
        try:
            result = self.call(store, fn, *args)
        except PoolBusy:
            raise StoreUnavailable(store) from None
        return result if isinstance(result, Deferred) else succeed(result)


def then(result: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(result, *args), once result is there: at once for a value, in a callback for a Deferred."""
    if isinstance(result, Deferred):
        return result.addCallback(fn, *args)
    return fn(result, *args)


CALLS: Slot[DatabaseCalls] = Slot("database calls")


def database_calls(db: Any, reactor: Any) -> DatabaseCalls:
    """The one DatabaseCalls of a database object in this process."""
    return registry.get(CALLS, db, lambda: DatabaseCalls(db, reactor))
