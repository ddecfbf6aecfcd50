"""The change feed: every change made through the service layer, numbered in commit order.

Each change appends an entry to the ``changes`` table in the transaction that
makes it, so the entry commits or aborts with the change, whichever process
made it (the CLI, a service, a management API)::

    sequence -> {"kind": "role", "op": "created" | "updated" | "deleted", "record": <wire form>, "at": ns}

The last sequence is kept in the database's metadata; it only grows, also
when old entries are trimmed (the newest KEEP entries are kept). Readers
(the management API component) remember the last sequence they handled and
read what lies after it. They are woken at once by commits to their database
in their own process (on_local_commit), on PostgreSQL by a notification on
CHANNEL sent with the commit, and otherwise find changes by checking the
stored sequence.

The table is a schema of its own, attached only by writers and followers:
like every table it is created when first attached for writing, and
read-only opens of a database written before it existed never need it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import orm
from cfxstore.registry import Slot, registry
from cfxstore.service import attached
from cfxstore.tables import DeclaredSchema, plain_table
from cfxstore.timeutil import now_ns

__all__ = ["ChangeFeedSchema", "ChangeFeed", "changes_table", "append",
           "on_local_commit", "META_KEY", "CHANNEL", "KEEP"]

META_KEY = "cfxstore.changes.sequence"
#: PostgreSQL notification channel; the payload carries nothing, the stored sequence says what is new.
CHANNEL = "cfxstore-changes"
#: Entries kept; each append drops the one this many places back.
KEEP = 10_000
#: Entries read per transaction while following.
BATCH = 1000

#: The local-commit listeners of each database path.
LISTENERS: Slot[list[Callable[[], None]]] = Slot("change feed listeners")


class ChangeFeedSchema(DeclaredSchema):
    """The change feed: slot 65, in the range of the management realm's tables (MrealmSchema)."""

    # Not dumped: the feed tells followers what changed in this database; a loaded database starts its own.
    changes = plain_table(65, key="uint64", value="cbor", dumped=False)


def changes_table(db: orm.Database) -> orm.Map:
    """The change feed's table on db."""
    return attached(ChangeFeedSchema, db).changes


def append(db: orm.Database, table: orm.Map, txn: Any, kind: str, op: str, record: dict[str, Any]) -> int:
    """Add a change to the feed in txn; returns its sequence."""
    seq = (db.get_meta(txn, META_KEY, 0) or 0) + 1
    db.set_meta(txn, META_KEY, seq)
    table[txn, seq] = {"kind": kind, "op": op, "record": record, "at": now_ns()}
    if seq > KEEP:
        table.delete(txn, seq - KEEP)
    txn.notify(CHANNEL, "")  # equal payloads in one transaction reach listeners once
    listeners = _listeners(db)
    txn.on_commit(lambda: _wake(listeners))
    return seq


def on_local_commit(db: orm.Database, listener: Callable[[], None]) -> Callable[[], None]:
    """Call listener() after each commit in this process that added changes to db; returns the remover."""
    listeners = _listeners(db)
    listeners.append(listener)
    return lambda: listeners.remove(listener) if listener in listeners else None


def _listeners(db: orm.Database) -> list[Callable[[], None]]:
    return registry.get(LISTENERS, db.path, list)


def _wake(listeners: list[Callable[[], None]]) -> None:
    for listener in list(listeners):
        listener()


class ChangeFeed:
    """Reads the feed of one database."""

    def __init__(self, db: orm.Database) -> None:
        self.db = db
        self.table = changes_table(db)

    def last(self) -> int:
        """The sequence of the newest change (0: none yet)."""
        with self.db.begin() as txn:
            return self.db.get_meta(txn, META_KEY, 0) or 0

    def after(self, position: int, limit: int = BATCH) -> list[tuple[int, dict[str, Any]]]:
        """Up to limit (sequence, entry) pairs after position, oldest first."""
        with self.db.begin() as txn:
            return list(self.table.select(txn, from_key=position + 1, limit=limit))

    def follow(self, position: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every entry after position, in batches, until the newest."""
        while True:
            batch = self.after(position)
            yield from batch
            if len(batch) < BATCH:
                return
            position = batch[-1][0]
