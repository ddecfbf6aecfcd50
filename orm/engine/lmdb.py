"""The LMDB engine (py-lmdb): one named LMDB database per table.

One named database per table gives exact O(1) counts (LMDB keeps the entry
count) and a drop that cannot reach into a neighbouring table.

Map size. LMDB's map is address space, and on Linux the file grows only as
pages are written, so the engine maps the configured ceiling at open. A
write transaction is never aborted and redone behind its caller's back: if
the map fills inside one, the transaction fails with ``MapFull``. Only when
the address space cannot hold the ceiling does the engine start smaller (at
``maxsize``); then it grows the map between transactions, never inside one:
before a write transaction when the map is over half full, and before the
next one after a transaction failed on a full map (that ``MapFull`` is
retryable, and ``Database.transact`` retries it). At the ceiling
``MapFull`` is final.

Growth, and adopting a map another process grew (``MDB_MAP_RESIZED``), need
every transaction of this process to be closed: the engine counts them per
thread and holds new ones back while it resizes.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from typing import Any, Callable, Iterator, NoReturn

import lmdb

from .hooks import NoDelivery, TransactionHooks
from .lmdbfile import check_whole
from ..errors import DatabaseError, Error, KeyTooLong, MapFull, ReadOnlyError, TransactionError, ValueCodecError

try:
    if os.environ.get("ORM_PURE_PYTHON"):
        raise ImportError("ORM_PURE_PYTHON is set")
    from ._lmdbcall import Call
except ImportError:
    Call = None

# How long a resize waits for this process's other transactions to end: a needed one, and
# one ahead of need (skipped if they stay open).
GROW_WAIT_SECONDS = 30.0
PROACTIVE_WAIT_SECONDS = 1.0
_MiB = 1 << 20


def address_space_for(size: int) -> bool:
    """True if this process can map size more bytes (a reservation that is released at once)."""
    try:
        probe = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0),
                          prot=0)  # PROT_NONE: address space only
    except (OSError, OverflowError, ValueError):
        return False
    probe.close()
    return True


#: Opens retried while other processes keep growing the map under them.
OPEN_ATTEMPTS = 20


class LmdbEngine:
    """One LMDB environment plus the bookkeeping that keeps resizing safe."""

    #: LMDB has no notifications: processes sharing the file see each other's changes by reading.
    notifies_other_processes = False

    def __init__(self, path: str, *, maxsize: int, maxsize_limit: int, readonly: bool, sync: bool,
                 max_tables: int, max_readers: int = 126) -> None:
        self.path = path
        self.readonly = readonly
        self.ceiling = max(maxsize_limit, maxsize)
        size = self.ceiling if address_space_for(self.ceiling) else maxsize
        check_whole(path)  # a truncated copy would kill this process with SIGBUS once mapped
        # Every open creates lock.mdb, so without one no other process has the database open: a read-only
        # open then goes without the lock file rather than create one (read-only must leave no trace).
        lock = not readonly or os.path.exists(os.path.join(path, "lock.mdb"))
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._env = lmdb.open(path, map_size=size, max_dbs=max_tables + 2, readonly=readonly, sync=sync,
                                      metasync=sync, create=not readonly, subdir=True, mode=0o600, lock=lock,
                                      max_readers=max_readers)
                break
            except lmdb.MapResizedError as exc:
                # Another process grew the map between the open reading its size and the open's first
                # transaction: opening again reads the new size.
                if attempt == OPEN_ATTEMPTS - 1:
                    raise DatabaseError(f"cannot open database {path}: {exc}") from None
            except lmdb.Error as exc:
                raise DatabaseError(f"cannot open database {path}: {exc}") from None
        self.max_key_size: int = self._env.max_key_size()
        self._cond = threading.Condition()
        self._states: "weakref.WeakSet[_ThreadState]" = weakref.WeakSet()  # one per thread
        self._closed_gate = False   # True while a resize holds new transactions back
        self._local = threading.local()
        self._handles: dict[bytes, Any] = {}
        self._want_growth = False
        self._note_map_size()

    # -- environment -------------------------------------------------------

    @property
    def map_size(self) -> int:
        return self._map_bytes

    def _note_map_size(self) -> None:
        # Cached: reading it costs an env.info() call, too much for every begin.
        self._map_bytes = self._env.info()["map_size"]
        self._growable = self._map_bytes < self.ceiling

    def info(self) -> dict[str, Any]:
        info = self._env.info()
        stat = self._env.stat()
        return {
            "engine": "lmdb",
            "map_size": info["map_size"],
            "used_bytes": (info["last_pgno"] + 1) * stat["psize"],
            "page_size": stat["psize"],
            "readers": info["num_readers"],
            "max_readers": info["max_readers"],
            "last_txnid": info["last_txnid"],
        }

    def copy(self, dest: str, compact: bool) -> None:
        self._counted(lambda: self._env.copy(dest, compact=compact), f"copy to {dest}")

    def close(self) -> None:
        self._env.close()

    def translate(self, exc: Exception, what: str) -> Exception:
        """An LMDB exception as an orm error naming what was being done."""
        if isinstance(exc, Error) or not isinstance(exc, lmdb.Error):
            return exc
        if isinstance(exc, lmdb.BadValsizeError):
            return KeyTooLong(f"{what}: key is empty or longer than the engine limit of {self.max_key_size} bytes")
        if isinstance(exc, lmdb.ReadonlyError) or "ermission" in str(exc):
            return ReadOnlyError(f"{what}: write inside a read-only transaction (use db.begin(write=True))")
        if isinstance(exc, lmdb.MapFullError):
            return self._full_error()
        if isinstance(exc, lmdb.DbsFullError):
            return DatabaseError(f"database {self.path}: {what}: too many tables (raise max_tables)")
        if "closed/deleted/dropped" in str(exc):
            return TransactionError(f"{what}: the transaction has ended")
        return DatabaseError(f"database {self.path}: {what}: engine error: {exc}")

    def _full_error(self) -> MapFull:
        if self.map_size < self.ceiling:
            self._want_growth = True
            return MapFull(f"database {self.path} filled its map of {self.map_size} bytes; the transaction "
                           "was not applied and can be retried once the map has grown (db.transact retries it)",
                           retryable=True)
        return MapFull(f"database {self.path} is full at its ceiling of {self.ceiling} bytes (raise maxsize_limit)",
                       retryable=False)

    # -- per-thread transaction counts --------------------------------------------

    def _state(self) -> "_ThreadState":
        try:
            return self._local.s
        except AttributeError:
            st = self._local.s = _ThreadState()
            with self._cond:
                self._states.add(st)
            return st

    def listen(self, channel: str, callback: Callable[[str], None],
               on_error: Callable[[DatabaseError], None] | None = None) -> NoDelivery:
        """Nothing is ever delivered: LMDB has no notifications (see notifies_other_processes)."""
        return NoDelivery()

    def thread_write_txn(self) -> "LmdbTransaction | None":
        return self._state().writer

    def _enter(self, st: "_ThreadState") -> None:
        """Count a transaction of this thread, waiting while a resize runs."""
        # Count first, then look at the flag; a resize sets the flag, then
        # counts. Under the GIL one of the two always sees the other.
        while True:
            st.n += 1
            if not self._closed_gate:
                return
            st.n -= 1
            with self._cond:
                self._cond.notify_all()  # the resize may be waiting for the count just taken back
                self._cond.wait_for(lambda: not self._closed_gate, timeout=GROW_WAIT_SECONDS)

    def _leave(self, st: "_ThreadState") -> None:
        st.n -= 1
        if self._closed_gate:
            with self._cond:
                self._cond.notify_all()

    def _counted(self, fn: Callable[[], Any], what: str) -> Any:
        """fn() counted as a transaction of this thread (py-lmdb runs one inside), resize-safe."""
        st = self._state()
        while True:
            self._enter(st)
            try:
                return fn()
            except lmdb.MapResizedError:
                pass
            except lmdb.Error as exc:
                raise self.translate(exc, what) from None
            finally:
                self._leave(st)
            self._adopt_size()

    def _exclusive(self, fn: Callable[[], None], why: str, wait: float = GROW_WAIT_SECONDS) -> None:
        """Run fn while no transaction of this process is open, waiting up to `wait` seconds for that."""
        if self._state().n:
            raise DatabaseError(f"database {self.path}: {why}, which cannot happen while this thread holds "
                                "an open transaction; end it and retry", retryable=True)
        with self._cond:
            self._cond.wait_for(lambda: not self._closed_gate, timeout=wait)
            if self._closed_gate:
                raise DatabaseError(f"database {self.path}: {why}: another resize took too long", retryable=True)
            self._closed_gate = True
        try:
            with self._cond:
                if not self._cond.wait_for(lambda: sum(s.n for s in self._states) == 0, timeout=wait):
                    raise DatabaseError(f"database {self.path}: {why}: other transactions of this process "
                                        f"stayed open for {wait:g} s", retryable=True)
            fn()
        finally:
            with self._cond:
                self._closed_gate = False
                self._cond.notify_all()

    # -- resizing ---------------------------------------------------------------------

    def _used(self) -> int:
        return (self._env.info()["last_pgno"] + 2) * self._env.stat()["psize"]

    def _set_map(self, size: int) -> None:
        if not address_space_for(size):
            raise DatabaseError(f"database {self.path}: no address space left to map {size} bytes")
        try:
            self._env.set_mapsize(size)
        except lmdb.Error as exc:
            raise DatabaseError(f"database {self.path}: resizing the map to {size} bytes failed ({exc}); "
                                "reopen the database") from None
        self._note_map_size()

    def _grow(self, needed: bool) -> None:
        """Double the map (up to the ceiling), between transactions.

        needed: a transaction failed on the full map, so a growth that cannot
        happen now is an error (retryable); otherwise it is only ahead of need
        and is skipped when this thread holds a transaction or others do not
        end within PROACTIVE_WAIT_SECONDS.
        """
        def grow() -> None:
            current = self.map_size
            target = min(max(current * 2, self._used() * 2), self.ceiling)
            if target <= current:
                return
            try:
                self._set_map(target)
            except DatabaseError:
                self.ceiling = current  # the address space is what it is: further MapFull is final
                self._note_map_size()
            self._want_growth = False

        if needed:
            self._exclusive(grow, "growing the map")
            return
        if self._state().n:
            return
        try:
            self._exclusive(grow, "growing the map", PROACTIVE_WAIT_SECONDS)
        except DatabaseError:
            pass  # the next transaction may fill the map: it then fails retryably and growth is needed

    def _adopt_size(self) -> None:
        """Another process grew the database past this process's map: map it all."""
        def adopt() -> None:
            used = -(-self._used() // _MiB) * _MiB
            target = max(self.ceiling, used)
            if not address_space_for(target):
                target = max(self.map_size * 2, used)
            self._set_map(target)

        self._exclusive(adopt, "another process grew the database; adopting its size")

    # -- tables --------------------------------------------------------------

    def open_table(self, name: str, create: bool, txn: "LmdbTransaction | None" = None) -> Any:
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

        def open_db(t: Any = None) -> Any:
            try:
                return self._env.open_db(key, txn=t, create=create)
            except lmdb.NotFoundError:
                return None

        if writer is not None:
            try:
                handle = open_db(writer._t)
            except lmdb.Error as exc:
                raise writer._fail(exc, f"opening table {name}") from None
            writer.on_abort(lambda: self._handles.pop(key, None))
        else:
            handle = self._counted(open_db, f"opening table {name}")
        if handle is not None:
            self._handles[key] = handle
        return handle

    # -- transactions ----------------------------------------------------------

    def begin(self, write: bool, single: bool = False) -> "LmdbTransaction":
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
            if self._growable:
                if self._want_growth:
                    self._grow(needed=True)
                elif self._used() * 2 > self._map_bytes:
                    self._grow(needed=False)
        while True:
            self._enter(st)
            try:
                t = self._env.begin(None, None, write)  # (db, parent, write): positional is cheaper
                break
            except lmdb.MapResizedError:
                self._leave(st)
            except BaseException as exc:
                self._leave(st)
                if isinstance(exc, lmdb.Error):
                    raise self.translate(exc, "beginning a transaction") from None
                raise
            self._adopt_size()
        txn = LmdbTransaction(self, t, write, st)
        if write:
            st.writer = txn
        return txn


class _Errors:
    """A transaction's error handling: py-lmdb errors become orm errors; a full map breaks the transaction."""

    __slots__ = ("engine", "failed")

    def __init__(self, engine: LmdbEngine) -> None:
        self.engine = engine
        self.failed: Error | None = None

    def fail(self, exc: BaseException, what: str) -> BaseException:
        """exc as an orm error; a full map (and any later use of the broken transaction) raises MapFull."""
        if self.failed is not None:
            return self.failed
        if isinstance(exc, TypeError):
            return ValueCodecError(f"{what}: keys and values must be bytes ({exc})")
        if not isinstance(exc, lmdb.Error):
            return exc
        err = self.engine.translate(exc, what)
        if isinstance(exc, lmdb.MapFullError):
            self.failed = err  # type: ignore[assignment]
        return err

    def call_failed(self, exc: BaseException, args: tuple[Any, ...]) -> Any:
        key = args[1] if len(args) > 1 else b""
        size = len(key) if isinstance(key, (bytes, bytearray)) else 0
        raise self.fail(exc, f"key of {size} bytes") from None


class _ThreadState:
    """Per-thread transaction count and write transaction; written only by its thread."""

    __slots__ = ("n", "writer", "__weakref__")

    def __init__(self) -> None:
        self.n = 0
        self.writer: LmdbTransaction | None = None


class LmdbTransaction(TransactionHooks):
    """A transaction: the unit of atomicity. Use as a context manager.

    ``get``, ``put`` and ``insert`` are per-transaction callables (frame-free
    when orm.engine._lmdbcall is built); a read-only transaction refuses
    writes through the class methods of the same names.
    """

    def __init__(self, engine: LmdbEngine, t: "lmdb.Transaction", write: bool, st: _ThreadState) -> None:
        self._engine = engine
        self._st = st
        # py-lmdb's stubs type what it reads as bytes or buffers; without buffers=True it is bytes.
        self._t: Any = t
        self.write = write
        self._done = False
        # The error state lives apart from the transaction: the calls below hold
        # it, and a cycle through the transaction would keep py-lmdb's
        # transaction, and its reader slot, alive until the cyclic GC ran.
        errors = self._errors = _Errors(engine)
        on_error = errors.call_failed
        if Call is not None:
            self.get = Call(t.get, (1, None, 0), 2, on_error)
            if write:  # py-lmdb's put takes the place of the read-only refusal
                self.put = Call(t.put, (1, 2, True, True, False, 0), 3, on_error)  # type: ignore[method-assign]
                self.insert = Call(t.put, (1, 2, True, False, False, 0), 3, on_error)  # type: ignore[method-assign]
        else:
            self.get = _py_call(t.get, lambda h, k: (k, None, h), on_error)
            if write:
                self.put = _py_call(  # type: ignore[method-assign]
                    t.put, lambda h, k, v: (k, v, True, True, False, h), on_error)
                self.insert = _py_call(  # type: ignore[method-assign]
                    t.put, lambda h, k, v: (k, v, True, False, False, h), on_error)

    def _fail(self, exc: BaseException, what: str) -> BaseException:
        return self._errors.fail(exc, what)

    def notify(self, channel: str, payload: str) -> None:
        """Accepted and dropped: LMDB delivers no notifications (see LmdbEngine.listen)."""

    # -- refusals of a read-only transaction ------------------------------------------

    def put(self, h: Any, key: bytes, value: bytes) -> NoReturn:
        raise ReadOnlyError("write inside a read-only transaction (use db.begin(write=True))")

    insert = put

    # -- context manager -----------------------------------------------------

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._done:
            return
        if exc_type is not None:
            self.abort()
        elif self.write:
            self.commit()
        else:  # the common read path, kept short
            try:
                self._t.commit()
            except lmdb.Error as exc:
                self._finish(None)
                raise self._fail(exc, "ending a read transaction") from None
            self._finish(self._on_commit)

    def commit(self) -> None:
        if self._done:
            raise TransactionError("transaction already ended")
        failed = self._errors.failed
        if failed is not None:
            self.abort()
            raise failed
        try:
            self._t.commit()
        except lmdb.Error as exc:
            err = self._fail(exc, "commit")
            self.abort()
            raise err from None
        self._finish(self._on_commit)

    def abort(self) -> None:
        if self._done:
            return
        try:
            self._t.abort()
        except lmdb.Error:
            pass  # LMDB ended it already (a failed commit): the writes are undone either way
        finally:
            self._finish(self._on_abort)

    def _finish(self, callbacks: list[Callable[[], None]] | None) -> None:
        self._done = True
        st = self._st
        if self.write:
            st.writer = None
        self._engine._leave(st)
        self._fire(callbacks)

    # -- the rest of the protocol ---------------------------------------------------------

    def replace(self, h: Any, key: bytes, value: bytes) -> bytes | None:
        try:
            return self._t.replace(key, value, db=h)
        except (lmdb.Error, TypeError) as exc:
            raise self._fail(exc, f"key of {len(key)} bytes") from None

    def delete(self, h: Any, key: bytes) -> bool:
        try:
            return self._t.delete(key, db=h)
        except (lmdb.Error, TypeError) as exc:
            raise self._fail(exc, f"key of {len(key)} bytes") from None

    def put_many(self, h: Any, pairs: list[tuple[bytes, bytes]]) -> None:
        try:
            self._t.cursor(db=h).putmulti(pairs)
        except (lmdb.Error, TypeError) as exc:
            raise self._fail(exc, f"batch of {len(pairs)} puts") from None

    def count(self, h: Any) -> int:
        try:
            return self._t.stat(h)["entries"]
        except lmdb.Error as exc:
            raise self._fail(exc, "count") from None

    def drop(self, h: Any) -> int:
        n = self.count(h)
        try:
            self._t.drop(h, delete=False)
        except lmdb.Error as exc:
            raise self._fail(exc, "drop") from None
        return n

    def iterate(self, h: Any, start: bytes | None, stop: bytes | None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Ordered (key, value) pairs in [start, stop)."""
        try:
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
                ok = step()
        except lmdb.Error as exc:
            raise self._fail(exc, "iteration") from None


def _py_call(fn: Callable[..., Any], order: Callable[..., tuple[Any, ...]],
             on_error: Callable[[BaseException, tuple[Any, ...]], Any]) -> Callable[..., Any]:
    """The Python version of _lmdbcall.Call."""
    def call(*args: Any) -> Any:
        try:
            return fn(*order(*args))
        except Exception as exc:
            return on_error(exc, args)
    return call


def _seek_before(cur: "lmdb.Cursor", stop: bytes | None) -> bool:
    """Position on the last key < stop (or the last key if stop is None)."""
    if stop is None:
        return cur.last()
    if cur.set_range(stop):
        return cur.prev()
    return cur.last()


def database_exists(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "data.mdb"))
