"""The engine protocol: everything orm needs from a storage engine.

``Database``, the tables, their indexes and the catalog reach storage only
through the two interfaces below. An engine stores raw bytes in named
tables, keeps each table's keys in bytewise order and runs serialisable
transactions: any number of readers, each on a snapshot, and one writer at
a time. Whatever is specific to an engine (map growth, cursors, handles,
native acceleration, connection pools) stays inside it.

Implementations: ``lmdb`` (the default, orm/engine/lmdb.py), ``memory``
(orm/engine/memory.py) and ``postgres`` (orm/engine/postgres.py, opened by
a ``postgresql://`` URL): there a handle names a table, ``iterate`` is an
ordered range query read in pages, several writers run at once and a
serialisation failure raises ``orm.Conflict`` (retryable) instead of a
second writer waiting.

Errors: an engine raises orm errors only (``KeyTooLong``, ``ReadOnlyError``,
``MapFull``, ``Conflict``, ``TransactionError``, ``DatabaseError``), never
its own exceptions. An error with ``retryable`` set means the whole
transaction may be run again (``Database.transact`` does that); the
transaction must then be aborted, and it wrote nothing.

Notifications: a transaction's ``notify(channel, payload)`` is sent when it
commits, to the ``listen(channel, ...)`` callbacks of other engines on the
same database. Only an engine whose ``notifies_other_processes`` is True
delivers them (PostgreSQL: LISTEN/NOTIFY); LMDB and memory accept both
calls and deliver nothing (other processes see changes by reading).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

from ..errors import DatabaseError, InvalidArgument
from .lmdb import LmdbEngine
from .memory import MemoryEngine


#: An engine's reference to one table; opaque to orm (each engine has its own kind), valid until
#: the engine closes.
Handle = Any


class EngineTransaction(Protocol):
    """One transaction. Keys and values are bytes; ranges are [start, stop), None = unbounded."""

    write: bool

    def get(self, handle: Handle, key: bytes) -> bytes | None: ...
    def put(self, handle: Handle, key: bytes, value: bytes) -> None:
        """Store value under key, replacing any value there."""
    def insert(self, handle: Handle, key: bytes, value: bytes) -> bool:
        """Store value only if key is absent; False (nothing written) if it was present."""
    def replace(self, handle: Handle, key: bytes, value: bytes) -> bytes | None:
        """Store value under key; the value it replaced, or None."""
    def delete(self, handle: Handle, key: bytes) -> bool: ...
    def put_many(self, handle: Handle, pairs: list[tuple[bytes, bytes]]) -> None:
        """Overwriting puts of pairs whose keys the caller checked against max_key_size."""
    def iterate(self, handle: Handle, start: bytes | None, stop: bytes | None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs with start <= key < stop in key order (descending if reverse).

        Writes to the same transaction while iterating are allowed; the
        iteration continues after the last key it yielded.
        """
    def count(self, handle: Handle) -> int:
        """Exact number of entries of the table."""
    def drop(self, handle: Handle) -> int:
        """Remove every entry of the table; returns how many there were."""
    def commit(self) -> None: ...
    def abort(self) -> None:
        """End the transaction, undoing its writes; a no-op once ended."""
    def on_commit(self, fn: Callable[[], None]) -> None: ...
    def on_abort(self, fn: Callable[[], None]) -> None: ...
    def notify(self, channel: str, payload: str) -> None:
        """Send payload to the listeners of channel when (and only if) this commits."""
    def __enter__(self) -> "EngineTransaction": ...
    def __exit__(self, *exc: Any) -> None:
        """Commit if the block succeeded, abort if it raised."""


class Subscription(Protocol):
    """A ``listen`` in progress."""

    def stop(self) -> None:
        """Stop listening; no callback runs after this returns."""


class Engine(Protocol):
    """One open database."""

    path: str
    readonly: bool
    #: Longest key (including every table-level prefix) the engine stores, in bytes.
    max_key_size: int
    #: Whether notifications reach listeners in other processes (False: they reach no one).
    notifies_other_processes: bool

    def begin(self, write: bool, single: bool = False) -> EngineTransaction:
        """A transaction; one writer at a time (a second writer waits), readers never wait.

        ``single``: a reader that makes one read. An engine whose snapshot costs a
        round trip may skip taking one: that read is then its own snapshot.
        """
    def open_table(self, name: str, create: bool, txn: Any = None) -> Handle | None:
        """The table's handle, creating it if asked (None if absent); inside txn (one this engine began) if given."""
    def info(self) -> dict[str, Any]:
        """Figures for ``Database.stats``: at least map_size and used_bytes."""
    def copy(self, dest: str, compact: bool) -> None:
        """A consistent copy of the whole database into the empty directory dest."""
    def close(self) -> None: ...
    def thread_write_txn(self) -> EngineTransaction | None:
        """The write transaction this thread has open, if any."""
    def listen(self, channel: str, callback: Callable[[str], None],
               on_error: Callable[[DatabaseError], None] | None = None) -> Subscription:
        """callback(payload) for each notification on channel that another engine commits.

        on_error(error) hears of each failure to listen (a lost connection, a failed reconnect).
        """


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))


ENGINES = ("lmdb", "memory", "postgres")


def open_engine(kind: str, path: str, **options: Any) -> Engine:
    """An engine of the named kind on path; options are the Database's."""
    if kind == "lmdb":
        return LmdbEngine(path, **options)
    if kind == "memory":
        return MemoryEngine(path, readonly=options["readonly"])
    if kind == "postgres":
        # psycopg is optional (the postgres extra).
        from .postgres import PostgresEngine
        return PostgresEngine(path, readonly=options["readonly"])
    raise InvalidArgument(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
