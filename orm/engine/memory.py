"""The in-memory engine: the engine protocol over Python dicts, for tests and throwaway use.

Same semantics as LMDB: readers see the snapshot committed when they began,
one writer at a time (a second writer thread waits), abort restores, keys
ordered bytewise with LMDB's key size limit. ``Database(":memory:")`` is a
private database that lives as long as the handle; ``Database(path,
engine="memory")`` names one shared by every handle of the process on that
path, kept until the process ends (so a close and reopen sees the data).

Committed tables are never changed in place: a write transaction works on
private copies of the tables it writes (copied on its first write to each)
and publishes them at commit, so a reader's snapshot is just the table
dictionary it began with. Each write transaction therefore costs a copy of
each table it changes: fine for tests, not for large tables.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from typing import Any, Callable, Iterator

from ..errors import DatabaseError, DatabaseNotFound, KeyTooLong, ReadOnlyError, TransactionError, ValueCodecError
from .hooks import NoDelivery, TransactionHooks, check_new_writer
from .lmdb import LmdbEngine

#: LMDB's limit on a default build, so both engines refuse the same keys.
MAX_KEY_SIZE = 511


class _Table:
    __slots__ = ("data", "keys")

    def __init__(self, data: dict[bytes, bytes] | None = None, keys: list[bytes] | None = None) -> None:
        self.data = {} if data is None else data
        self.keys = [] if keys is None else keys   # sorted

    def copy(self) -> "_Table":
        return _Table(dict(self.data), list(self.keys))


_EMPTY = _Table()


class _Store:
    """One database: the committed tables plus the writer lock."""

    def __init__(self) -> None:
        self.root: dict[str, _Table] = {}
        self.writer = threading.Lock()
        self.local = threading.local()


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


class MemoryEngine:
    """One in-memory database (see the module docstring)."""

    max_key_size = MAX_KEY_SIZE
    #: Nothing leaves the process, notifications included: they reach no one.
    notifies_other_processes = False

    def __init__(self, path: str, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        if path == ":memory:":
            self._store = _Store()
            return
        with _stores_lock:
            store = _stores.get(path)
            if store is None:
                if readonly:
                    raise DatabaseNotFound(f"no database at {path} in the memory of this process "
                                           "(read-only open does not create one)")
                store = _stores[path] = _Store()
        self._store = store

    def listen(self, channel: str, callback: Callable[[str], None],
               on_error: Callable[[DatabaseError], None] | None = None) -> NoDelivery:
        """Nothing is ever delivered: the memory engine has no notifications (see notifies_other_processes)."""
        return NoDelivery()

    def begin(self, write: bool, single: bool = False) -> "MemoryTransaction":
        store = self._store
        if write:
            check_new_writer(self)
            store.writer.acquire()
            txn = MemoryTransaction(self, store.root, True)
            store.local.writer = txn
            return txn
        return MemoryTransaction(self, store.root, False)

    def thread_write_txn(self) -> "MemoryTransaction | None":
        return getattr(self._store.local, "writer", None)

    def open_table(self, name: str, create: bool, txn: "MemoryTransaction | None" = None) -> str | None:
        writer = txn if txn is not None and txn.write else self.thread_write_txn()
        if writer is not None:
            if name in writer._work or name in writer._root:
                return name
            if create and not self.readonly:
                writer._work[name] = _Table()
                return name
            return None
        if name in self._store.root:
            return name
        if not create or self.readonly:
            return None
        with self.begin(write=True) as t:
            t._work.setdefault(name, _Table())
        return name

    def info(self) -> dict[str, Any]:
        used = sum(len(k) + len(v) for t in self._store.root.values() for k, v in t.data.items())
        return {"engine": "memory", "map_size": used, "used_bytes": used}

    def copy(self, dest: str, compact: bool) -> None:
        """Export into a new LMDB database at dest: a backup of memory is a real database."""
        root = self._store.root
        size = 2 * sum(len(k) + len(v) + 64 for t in root.values() for k, v in t.data.items()) + (1 << 22)
        out = LmdbEngine(dest, maxsize=size, maxsize_limit=size, readonly=False, sync=True,
                         max_tables=max(len(root), 1))
        try:
            with out.begin(write=True) as txn:
                for name, table in root.items():
                    h = out.open_table(name, True, txn)
                    txn.put_many(h, list(table.data.items()))
        finally:
            out.close()

    def close(self) -> None:
        pass


class MemoryTransaction(TransactionHooks):
    """A transaction over a snapshot (reads) or private table copies (writes)."""

    def __init__(self, engine: MemoryEngine, root: dict[str, _Table], write: bool) -> None:
        self._engine = engine
        self._root = root
        self._work: dict[str, _Table] = {}
        self.write = write
        self._done = False

    def notify(self, channel: str, payload: str) -> None:
        """Accepted and dropped: the memory engine delivers no notifications (see MemoryEngine.listen)."""

    # -- helpers ---------------------------------------------------------------

    def _read(self, h: str) -> _Table:
        if self._done:
            raise TransactionError("the transaction has ended")
        t = self._work.get(h)
        if t is None:
            t = self._root.get(h, _EMPTY)
        return t

    def _writable(self, h: str, key: bytes, value: bytes | None = b"") -> _Table:
        if not self.write:
            raise ReadOnlyError("write inside a read-only transaction (use db.begin(write=True))")
        _check_key(key)
        if not isinstance(value, bytes):
            raise ValueCodecError(f"value must be bytes after encoding, got {type(value).__name__}")
        if self._done:
            raise TransactionError("the transaction has ended")
        t = self._work.get(h)
        if t is None:
            base = self._root.get(h)
            t = self._work[h] = _Table() if base is None else base.copy()
        return t

    # -- reads -------------------------------------------------------------------

    def get(self, h: str, key: bytes) -> bytes | None:
        _check_key(key)
        return self._read(h).data.get(key)

    def count(self, h: str) -> int:
        return len(self._read(h).data)

    def iterate(self, h: str, start: bytes | None, stop: bytes | None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        # Each step re-seeks after the last key yielded, so writes meanwhile are safe.
        t = self._read(h)
        if reverse:
            i = len(t.keys) - 1 if stop is None else bisect_left(t.keys, stop) - 1
        else:
            i = 0 if start is None else bisect_left(t.keys, start)
        while 0 <= i < len(t.keys):
            k = t.keys[i]
            if (start is not None and k < start) if reverse else (stop is not None and k >= stop):
                return
            yield k, t.data[k]
            t = self._read(h)
            i = bisect_left(t.keys, k) - 1 if reverse else bisect_right(t.keys, k)

    # -- writes ------------------------------------------------------------------

    def put(self, h: str, key: bytes, value: bytes) -> None:
        t = self._writable(h, key, value)
        if key not in t.data:
            insort(t.keys, key)
        t.data[key] = value

    def insert(self, h: str, key: bytes, value: bytes) -> bool:
        t = self._writable(h, key, value)
        if key in t.data:
            return False
        insort(t.keys, key)
        t.data[key] = value
        return True

    def replace(self, h: str, key: bytes, value: bytes) -> bytes | None:
        old = self._writable(h, key, value).data.get(key)
        self.put(h, key, value)
        return old

    def delete(self, h: str, key: bytes) -> bool:
        t = self._writable(h, key)
        if key not in t.data:
            return False
        del t.data[key]
        del t.keys[bisect_left(t.keys, key)]
        return True

    def put_many(self, h: str, pairs: list[tuple[bytes, bytes]]) -> None:
        for key, value in pairs:
            self._writable(h, key, value)
        for key, value in pairs:
            self.put(h, key, value)

    def drop(self, h: str) -> int:
        if not self.write:
            raise ReadOnlyError("write inside a read-only transaction (use db.begin(write=True))")
        n = self.count(h)
        self._work[h] = _Table()
        return n

    # -- ending ------------------------------------------------------------------

    def commit(self) -> None:
        if self._done:
            raise TransactionError("transaction already ended")
        if self.write and self._work:
            store = self._engine._store
            store.root = {**store.root, **self._work}
        self._finish(self._on_commit)

    def abort(self) -> None:
        if self._done:
            return
        self._finish(self._on_abort)

    def _finish(self, callbacks: list[Callable[[], None]] | None) -> None:
        self._done = True
        self._work = {}
        if self.write:
            store = self._engine._store
            store.local.writer = None
            store.writer.release()
        self._fire(callbacks)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes):
        raise ValueCodecError(f"keys must be bytes after encoding, got {type(key).__name__}")
    if not key or len(key) > MAX_KEY_SIZE:
        raise KeyTooLong(f"key of {len(key)} bytes: key is empty or longer than the engine limit of "
                         f"{MAX_KEY_SIZE} bytes")
