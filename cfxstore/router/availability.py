"""Whether a node's PostgreSQL database answers, so the router fails fast while it does not.

Credential checks, history reads, revocations and cold cookie lookups on
PostgreSQL run in threads (dbcalls.py), which keeps the reactor serving, but
while the database is unreachable each of them would still wait for a
connection for the URL's ``timeout``, stalling the login or the caller. The first failure that shows the database is gone (a
plain ``DatabaseError``: unreachable, connection lost, commit outcome
unknown - not a conflict) marks it down; from then on ``check()`` raises
``StoreUnavailable`` at once, and a probe thread begins a transaction every
PROBE_SECONDS until one succeeds, which marks it up again. LMDB databases
are local files and never marked down.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from autobahn.wamp.exception import ApplicationError
from twisted.logger import Logger

from orm.engine.pgurl import is_url
from orm.errors import DatabaseError

from cfxstore.errors import Error
from cfxstore.registry import Slot, registry

log = Logger()
T = TypeVar("T")
PROBE_SECONDS = 0.5
#: The reason of the WAMP errors and aborts that say a store cannot be reached (safe to show clients).
STORE_UNAVAILABLE = "cfxstore.error.store_unavailable"


class StoreUnavailable(ApplicationError, Error):
    """The database cannot be reached: a WAMP error whose message names the store, never the URL.

    Raised through Crossbar (a meta procedure reading history, the
    revocation procedure, the authenticator) it reaches the client as is.
    """

    uri = STORE_UNAVAILABLE

    def __init__(self, store: str) -> None:
        self.text = f"the {store} is unavailable; retry later"
        super().__init__(STORE_UNAVAILABLE, self.text)


def is_outage(exc: BaseException) -> bool:
    """True for an error that says the database cannot be reached (not one about the data or a conflict)."""
    return type(exc) is DatabaseError


class Availability:
    """The reachability of one database as this process last saw it."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._remote = is_url(getattr(db, "path", None))
        self._lock = threading.Lock()
        self._down = False
        self._stopped = threading.Event()

    @property
    def remote(self) -> bool:
        """True for a database across the network (PostgreSQL): each call is a round trip."""
        return self._remote

    @property
    def up(self) -> bool:
        return not self._down

    def check(self, store: str) -> None:
        """Raise StoreUnavailable (naming store) while the database is down."""
        if self._down:
            raise StoreUnavailable(store)

    def call(self, store: str, fn: Callable[[], T]) -> T:
        """fn() unless the database is down; an outage fn meets marks it down. StoreUnavailable either way."""
        self.check(store)
        try:
            return fn()
        except DatabaseError as exc:
            if not self.lost(exc):
                raise
            raise StoreUnavailable(store) from None

    def lost(self, exc: BaseException) -> bool:
        """Mark the database down if exc shows an outage (logged once, probed until back); True if so."""
        if not (self._remote and is_outage(exc)):
            return False
        with self._lock:
            if self._down or self._stopped.is_set():
                return True
            self._down = True
        log.error("cfxstore: database unreachable, refusing what needs it until it answers: {error}", error=str(exc))
        threading.Thread(target=self._probe, name="cfxstore availability probe", daemon=True).start()
        return True

    def _probe(self) -> None:
        while not self._stopped.wait(PROBE_SECONDS):
            if self._db.closed:
                return
            try:
                with self._db.begin():
                    pass
            except Exception:
                continue
            self._down = False
            log.info("cfxstore: database reachable again")
            return

    def stop(self) -> None:
        self._stopped.set()


AVAILABILITY: Slot[Availability] = Slot("availability")


def availability(db: Any) -> Availability:
    """The one Availability of a database object in this process."""
    return registry.get(AVAILABILITY, db, lambda: Availability(db))
