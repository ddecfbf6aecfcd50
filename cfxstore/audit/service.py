"""AuditLog: the one writer of the audit log, and its reader.

Owners of the records an event is about call ``record(txn, event)`` inside
the transaction that makes the change, so the event commits or rolls back
with it. Retention is an age kept in the database (``set_max_age``; default
DEFAULT_MAX_AGE): the first event a process records and every PURGE_EVERY-th
after it also delete up to PURGE_BATCH expired events from the front of the
log, in the same transaction, so the log stays bounded without a run of its own.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

import orm
from cfxstore.audit.entities import KINDS, AuditEvent
from cfxstore.audit.schema import AuditSchema
from cfxstore.errors import InvalidArgument
from cfxstore.service import Service, attached
from cfxstore.timeutil import NS_PER_SECOND, now_ns

__all__ = ["AuditLog", "DEFAULT_MAX_AGE", "MAX_AGE_KEY"]

#: How long events are kept when the operator has not said: 90 days, in seconds.
DEFAULT_MAX_AGE = 90 * 86400
MAX_AGE_KEY = "cfxstore.audit.max_age"
PURGE_EVERY = 256
PURGE_BATCH = 1024


class AuditLog(Service):
    """Security events of one database, in time order."""

    default_max_age = DEFAULT_MAX_AGE

    def __init__(self, db: orm.Database) -> None:
        self.db = db
        self.schema = attached(AuditSchema, db)
        self._events = self.schema.audit_events
        self._recorded = itertools.count()

    def record(self, txn: Any, event: AuditEvent) -> None:
        """Append event inside the caller's write transaction (and trim the log now and then)."""
        self.record_many(txn, (event,))

    def record_many(self, txn: Any, events: Iterable[AuditEvent]) -> None:
        """Append events inside the caller's write transaction (the write-behind's apply for a run of staged
        events). An event's key (its time and a random id) is new: written without reading anything, so a
        batch of them costs no round trip of its own on PostgreSQL."""
        for event in events:
            self._events.write_known(txn, ((event.key, None, event),))
            if next(self._recorded) % PURGE_EVERY == 0:
                self._trim(txn, now_ns(), PURGE_BATCH)

    def check(self, event: AuditEvent) -> None:
        """Raise (InvalidArgument, orm.KeyTooLong) if event could never be stored, before staging it."""
        self._events.check_put(event.key, event)

    # -- retention -----------------------------------------------------------

    def max_age(self, txn: Any = None) -> int:
        """Seconds an event is kept."""
        if txn is None:
            with self.db.begin() as own:
                return self.max_age(own)
        value = self.db.get_meta(txn, MAX_AGE_KEY, None)
        return DEFAULT_MAX_AGE if value is None else int(value)

    def set_max_age(self, seconds: int) -> None:
        """Keep events for this many seconds (at least one) from now on; older ones go at the next trims."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
            raise InvalidArgument(f"max_age: expected a whole number of seconds >= 1, got {seconds!r}")
        self.transact(lambda txn: self.db.set_meta(txn, MAX_AGE_KEY, seconds))

    def purge(self, now: int | None = None) -> int:
        """Delete every event older than the retention age; returns how many."""
        at = now_ns() if now is None else now
        deleted = 0
        while True:
            n = self.transact(lambda txn: self._trim(txn, at, PURGE_BATCH))
            deleted += n
            if n < PURGE_BATCH:
                return deleted

    def _trim(self, txn: Any, now: int, limit: int) -> int:
        cutoff = now - self.max_age(txn) * NS_PER_SECOND
        doomed = list(self._events.select(txn, to_key=(cutoff,), limit=limit, return_values=False))
        for key in doomed:
            self._events.delete(txn, key)
        return len(doomed)

    # -- reading -------------------------------------------------------------

    def list(self, *, authid: str | None = None, kinds: Iterable[str] | None = None, since: int | None = None,
             until: int | None = None, limit: int | None = None, txn: Any = None) -> list[AuditEvent]:
        """Events at or after since and before until, oldest first; with limit, the newest limit of them."""
        wanted = None if kinds is None else frozenset(kinds)
        if wanted is not None and not wanted <= set(KINDS):
            raise InvalidArgument(f"kind: expected one of {', '.join(KINDS)}, got "
                                  f"{', '.join(sorted(wanted - set(KINDS)))}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidArgument(f"limit: expected an int >= 1, got {limit!r}")
        if txn is None:
            with self.db.begin() as own:
                return self.list(authid=authid, kinds=wanted, since=since, until=until, limit=limit, txn=own)
        found: list[AuditEvent] = []
        for event in self._newest_first(txn, authid, since, until):
            if wanted is None or event.kind in wanted:
                found.append(event)
                if limit is not None and len(found) >= limit:
                    break
        found.reverse()
        return found

    def _newest_first(self, txn: Any, authid: str | None, since: int | None, until: int | None) -> Any:
        if authid is None:
            return self._events.select(txn, from_key=None if since is None else (since,),
                                       to_key=None if until is None else (until,), reverse=True, return_keys=False)
        index = self.schema.idx_audit_events_by_authid
        keys = index.select(txn, from_key=(authid,) if since is None else (authid, since),
                            to_key=None if until is None else (authid, until), prefix=(authid,), reverse=True,
                            return_keys=False)
        return (self._events[txn, key] for key in keys)
