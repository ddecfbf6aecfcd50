"""The LMDB engine (py-lmdb): one named LMDB database per table.

One named database per table gives exact O(1) counts (LMDB keeps the entry
count) and a truncate that cannot reach into a neighbouring table.

A write that fills the map does not fail: the transaction's writes are
logged, so on MDB_MAP_FULL the engine aborts, doubles the map (up to a
ceiling) and replays the log in a fresh transaction. The caller's
transaction object stays the same and never notices. A map that cannot grow
(opened at its ceiling, or grown to it) keeps no log: holding every write
until commit costs about 0.3 µs a put, and there MAP_FULL is final anyway.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, Callable, Iterator

import lmdb

from . import ADD, PUT

from ..errors import DatabaseError, KeyTooLong, MapFull, ReadOnlyError, TransactionError, ValueCodecError

# Write log opcodes (PUT is public: hot-path callers append it themselves). The log is a flat list, four slots per write, because
# retaining one tuple per write makes the cyclic GC rescan them all the time.
_PUT, _ADD = PUT, ADD
_DEL, _DROP, _OPEN, _MANY = 2, 3, 4, 5

# How long a growing writer waits for other threads' transactions to end.
GROW_WAIT_SECONDS = 30.0


class LmdbEngine:
    """One LMDB environment plus the bookkeeping that makes map growth safe."""

    def __init__(self, path: str, *, maxsize: int, maxsize_limit: int, readonly: bool, sync: bool,
                 max_tables: int, max_readers: int = 126) -> None:
        self.path = path
        self.readonly = readonly
        self.maxsize_limit = max(maxsize_limit, maxsize)
        self._env = lmdb.open(path, map_size=maxsize, max_dbs=max_tables + 2, readonly=readonly,
                              sync=sync, metasync=sync, create=not readonly, subdir=True,
                              mode=0o600, lock=True, max_readers=max_readers)
        self._cond = threading.Condition()
        self._states: "weakref.WeakSet[_ThreadState]" = weakref.WeakSet()  # one per thread
        self._growing = False
        self._local = threading.local()
        self._handles: dict[bytes, Any] = {}
        self._note_map_size()

    # -- environment -------------------------------------------------------

    @property
    def map_size(self) -> int:
        return self._env.info()["map_size"]

    @property
    def max_key_size(self) -> int:
        return self._env.max_key_size()

    def info(self) -> dict[str, Any]:
        info = self._env.info()
        stat = self._env.stat()
        return {
            "map_size": info["map_size"],
            "used_bytes": (info["last_pgno"] + 1) * stat["psize"],
            "page_size": stat["psize"],
            "readers": info["num_readers"],
            "max_readers": info["max_readers"],
            "last_txnid": info["last_txnid"],
        }

    def copy(self, dest: str, compact: bool) -> None:
        self._env.copy(dest, compact=compact)

    def close(self) -> None:
        self._env.close()

    def translate(self, exc: Exception, what: str) -> Exception:
        """An LMDB exception as an orm error naming what was being done."""
        if not isinstance(exc, lmdb.Error):
            return exc
        if isinstance(exc, lmdb.BadValsizeError):
            return KeyTooLong(f"{what}: key is empty or longer than the engine limit of {self.max_key_size} bytes")
        if isinstance(exc, lmdb.ReadonlyError) or "ermission" in str(exc):
            return ReadOnlyError(f"{what}: write inside a read-only transaction (use db.begin(write=True))")
        return DatabaseError(f"{what}: engine error: {exc}")

    def _state(self) -> "_ThreadState":
        try:
            return self._local.s
        except AttributeError:
            st = self._local.s = _ThreadState()
            with self._cond:
                self._states.add(st)
            return st

    def thread_transactions(self) -> int:
        return self._state().n

    def thread_write_txn(self) -> "LmdbTransaction | None":
        return self._state().writer

    # -- tables --------------------------------------------------------------

    def open_table(self, name: str, txn: "LmdbTransaction | None", create: bool) -> Any:
        """The handle of a named table; None if it does not exist and create is False.

        Handles are cached per environment. One created inside a write
        transaction is forgotten again if that transaction aborts.
        """
        key = name.encode()
        handle = self._handles.get(key)
        if handle is not None:
            return handle
        create = create and not self.readonly
        writer = txn if txn is not None and txn.write else self.thread_write_txn()
        try:
            if writer is not None:
                handle = self._env.open_db(key, txn=writer._t, create=create)
                if writer.wlog is not None:
                    writer.wlog += (_OPEN, None, key, None)
                writer.on_abort(lambda: self._handles.pop(key, None))
            else:
                # py-lmdb runs its own short transaction here.
                handle = self._env.open_db(key, create=create)
        except lmdb.NotFoundError:
            return None
        self._handles[key] = handle
        return handle

    # -- transactions ----------------------------------------------------------

    def begin(self, write: bool, db: Any = None) -> "LmdbTransaction":
        try:
            st = self._local.s
        except AttributeError:
            st = self._state()
        if write:
            if self.readonly:
                raise ReadOnlyError(f"database {self.path} is open read-only")
            if st.writer is not None:
                raise TransactionError("this thread already has an open write transaction; "
                                       "LMDB allows one writer at a time and a second would deadlock")
        # Count first, then look at the flag; the grower sets the flag, then
        # counts. Under the GIL one of the two always sees the other.
        while True:
            st.n += 1
            if not self._growing:
                break
            st.n -= 1
            with self._cond:
                self._cond.wait_for(lambda: not self._growing, timeout=GROW_WAIT_SECONDS)
        try:
            try:
                t = self._env.begin(None, None, write)  # (db, parent, write): positional is cheaper
            except lmdb.MapResizedError:
                # Another process grew the map: adopt its size and retry.
                self._env.set_mapsize(0)
                self._note_map_size()
                t = self._env.begin(write=write)
        except BaseException:
            st.n -= 1
            raise
        txn = LmdbTransaction(self, t, write, st, db)
        if write:
            st.writer = txn
        return txn

    def _note_map_size(self) -> None:
        # Cached: reading the map size costs an env.info() call, too much for every begin.
        self._growable = self.map_size < self.maxsize_limit

    def can_grow(self) -> bool:
        return self._growable

    def full_error(self) -> MapFull:
        return MapFull(f"database {self.path} is full at its ceiling of {self.maxsize_limit} bytes "
                       "(raise maxsize_limit)")

    def _grow(self, txn: "LmdbTransaction") -> None:
        """Abort txn's LMDB transaction, double the map and start a fresh one."""
        current = self.map_size
        if current >= self.maxsize_limit:
            raise self.full_error()
        if self._state().n > 1:
            raise MapFull(f"database {self.path} is full ({current} bytes) and cannot grow while this "
                          "thread holds another open transaction")
        with self._cond:
            self._growing = True
        try:
            txn._t.abort()
            deadline = time.monotonic() + GROW_WAIT_SECONDS
            with self._cond:
                # Our own transaction still counts as one.
                while sum(st.n for st in self._states) > 1:
                    if time.monotonic() > deadline:
                        raise MapFull(f"database {self.path} is full ({current} bytes) and other "
                                      "transactions stayed open too long to grow it")
                    self._cond.wait(0.05)
            self._env.set_mapsize(min(current * 2, self.maxsize_limit))
            self._note_map_size()
            txn._t = self._env.begin(write=True)
        finally:
            with self._cond:
                self._growing = False
                self._cond.notify_all()


class _ThreadState:
    """Per-thread transaction count and write transaction; written only by its thread."""

    __slots__ = ("n", "writer", "__weakref__")

    def __init__(self) -> None:
        self.n = 0
        self.writer: LmdbTransaction | None = None


class LmdbTransaction:
    """A transaction: the unit of atomicity. Use as a context manager."""

    __slots__ = ("_engine", "_t", "write", "get", "put_raw", "wlog", "_gen", "_done", "_on_commit",
                 "_on_abort", "db", "_st")

    def __init__(self, engine: LmdbEngine, t: "lmdb.Transaction", write: bool, st: "_ThreadState",
                 db: Any = None) -> None:
        self._engine = engine
        self._st = st
        self._t = t
        self.write = write
        self.get = t.get          # the hot read path: no extra Python frame
        # The hot write path (see write_failed): put_raw(key, value, db=handle)
        # is the engine's own put; after it succeeds the caller appends
        # (opcode PUT, handle, key, value) to wlog unless it is None (no growth).
        self.put_raw = t.put
        self.wlog: list[Any] | None = [] if write and engine.can_grow() else None
        self._gen = 0             # bumped whenever the LMDB transaction is replaced
        self._done = False
        self._on_commit: list[Callable[[], None]] | None = None
        self._on_abort: list[Callable[[], None]] | None = None
        self.db = db              # the orm.Database that began it

    # -- context manager -----------------------------------------------------

    def __enter__(self) -> "LmdbTransaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._done:
            return
        if exc_type is not None:
            self.abort()
        elif self.write:
            self.commit()
        else:  # the common read path, kept short
            self._t.commit()
            if self._on_commit is None and not self._engine._growing:
                self._done = True
                self._st.n -= 1
            else:
                self._finish(self._on_commit)

    def on_commit(self, fn: Callable[[], None]) -> None:
        if self._on_commit is None:
            self._on_commit = []
        self._on_commit.append(fn)

    def on_abort(self, fn: Callable[[], None]) -> None:
        if self._on_abort is None:
            self._on_abort = []
        self._on_abort.append(fn)

    def commit(self) -> None:
        if self._done:
            raise TransactionError("transaction already ended")
        if not self.write:
            self._t.commit()
            self._finish(self._on_commit)
            return
        while True:
            try:
                self._t.commit()
                break
            except lmdb.MapFullError:
                self._recover()
        self._finish(self._on_commit)

    def abort(self) -> None:
        if self._done:
            return
        self._t.abort()
        self._finish(self._on_abort)

    def _finish(self, callbacks: list[Callable[[], None]] | None) -> None:
        self._done = True
        st = self._st
        st.n -= 1
        if self.write:
            self.wlog = None
            st.writer = None
        if self._engine._growing:
            with self._engine._cond:
                self._engine._cond.notify_all()
        if callbacks:
            for fn in callbacks:
                fn()

    # -- growth --------------------------------------------------------------

    def _recover(self) -> None:
        """MDB_MAP_FULL: grow the map and replay this transaction's writes."""
        if self.wlog is None:
            raise self._engine.full_error()
        while True:
            self._engine._grow(self)
            self._gen += 1
            self.get, self.put_raw = self._t.get, self._t.put
            try:
                self._replay()
                return
            except lmdb.MapFullError:
                continue

    def _replay(self) -> None:
        t, env, log = self._t, self._engine._env, self.wlog
        for i in range(0, len(log), 4):
            op, h, key, value = log[i:i + 4]
            if op == _PUT:
                t.put(key, value, db=h)
            elif op == _ADD:
                t.put(key, value, db=h, overwrite=False)
            elif op == _MANY:
                t.cursor(db=h).putmulti(key)
            elif op == _DEL:
                t.delete(key, db=h)
            elif op == _DROP:
                t.drop(h, delete=False)
            else:
                env.open_db(key, txn=t, create=True)

    # -- boundary operations ---------------------------------------------------

    def put(self, h: Any, key: bytes, value: bytes, overwrite: bool = True) -> bool:
        try:
            done = self._t.put(key, value, db=h, overwrite=overwrite)
        except lmdb.MapFullError:
            self._recover()
            return self.put(h, key, value, overwrite)
        except lmdb.Error as exc:
            raise _translate(exc, key, self) from None
        except TypeError as exc:
            raise ValueCodecError(f"value must be bytes after encoding, got {type(value).__name__}") from exc
        if done and self.wlog is not None:
            self.wlog += (_PUT if overwrite else _ADD, h, key, value)
        return done

    def put_many(self, h: Any, pairs: list[tuple[bytes, bytes]]) -> None:
        """Overwriting puts of encoded (key, value) pairs in one engine call.

        On an error other than a full map the pairs before the bad one may be
        written but not logged: the caller redoes the batch one put at a time
        (puts are idempotent), which logs them and raises the precise error.
        """
        try:
            self._t.cursor(db=h).putmulti(pairs)
        except lmdb.MapFullError:
            self._recover()
            self.put_many(h, pairs)
            return
        if self.wlog is not None:
            self.wlog += (_MANY, h, pairs, None)

    def write_failed(self, exc: Exception, h: Any, key: bytes, value: bytes, what: str) -> None:
        """put_raw raised exc: grow and redo the put if the map was full, else raise an orm error."""
        if isinstance(exc, lmdb.MapFullError):
            self._recover()
            self.put(h, key, value)
            return
        if isinstance(exc, lmdb.Error):
            raise self._engine.translate(exc, what) from None
        raise exc

    def replace(self, h: Any, key: bytes, value: bytes) -> bytes | None:
        try:
            old = self._t.replace(key, value, db=h)
        except lmdb.MapFullError:
            self._recover()
            return self.replace(h, key, value)
        except lmdb.Error as exc:
            raise _translate(exc, key, self) from None
        if self.wlog is not None:
            self.wlog += (_PUT, h, key, value)
        return old

    def delete(self, h: Any, key: bytes) -> bool:
        try:
            done = self._t.delete(key, db=h)
        except lmdb.MapFullError:
            self._recover()
            return self.delete(h, key)
        except lmdb.Error as exc:
            raise _translate(exc, key, self) from None
        if done and self.wlog is not None:
            self.wlog += (_DEL, h, key, None)
        return done

    def drop(self, h: Any) -> int:
        n = self._t.stat(h)["entries"]
        try:
            self._t.drop(h, delete=False)
        except lmdb.MapFullError:
            self._recover()
            return self.drop(h)
        except lmdb.Error as exc:
            raise _translate(exc, b"", self) from None
        if self.wlog is not None:
            self.wlog += (_DROP, h, None, None)
        return n

    def count(self, h: Any) -> int:
        return self._t.stat(h)["entries"]

    def iterate(self, h: Any, start: bytes | None, stop: bytes | None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Ordered (key, value) pairs in [start, stop); survives map growth mid-scan."""
        gen = self._gen
        cur = self._t.cursor(db=h)
        if reverse:
            ok = _seek_before(cur, stop)
        else:
            ok = cur.set_range(start) if start else cur.first()
        step = cur.prev if reverse else cur.next
        while ok:
            k, v = cur.item()
            if reverse:
                if start is not None and k < start:
                    return
            elif stop is not None and k >= stop:
                return
            yield k, v
            if self._gen != gen:  # the map grew while the caller held us: re-position
                gen = self._gen
                cur = self._t.cursor(db=h)
                step = cur.prev if reverse else cur.next
                if reverse:
                    ok = _seek_before(cur, k)
                    continue
                ok = cur.set_range(k)
                if ok and cur.key() == k:
                    ok = cur.next()
                continue
            ok = step()


def _seek_before(cur: "lmdb.Cursor", stop: bytes | None) -> bool:
    """Position on the last key < stop (or the last key if stop is None)."""
    if stop is None:
        return cur.last()
    if cur.set_range(stop):
        return cur.prev()
    return cur.last()


def _translate(exc: "lmdb.Error", key: bytes, txn: LmdbTransaction) -> Exception:
    return txn._engine.translate(exc, f"key of {len(key)} bytes")


def database_exists(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "data.mdb"))
