"""Database: an engine (LMDB by default) with a catalog, opened once per path per process."""

from __future__ import annotations

import os
import random
import stat
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

import cbor2

from . import atomic, crashpoint
from .catalog import CATALOG_TABLE, META_TABLE, Catalog, check_batch, entry_for, table_name
from .engine import ENGINES, Engine, EngineTransaction, Subscription, open_engine
from .engine.hooks import reactor_guard
from .engine.lmdb import database_exists
from .engine.pgurl import is_url, redact
from .errors import (Conflict, DatabaseClosed, DatabaseError, DatabaseNotFound, Error, InvalidArgument, ReadOnlyError,
                     SchemaError)
from .map import Map
from .setmap import SetMap
from .table import Table

Transaction = EngineTransaction
T = TypeVar("T")

#: Tries at recording tables in the catalog when concurrent registrations conflict.
_REGISTER_ATTEMPTS = 20
#: transact's pause before running a conflicting transaction again: random, up to
#: CONFLICT_PAUSE * 2**attempt seconds and never more than CONFLICT_PAUSE_MAX.
CONFLICT_PAUSE = 0.01
CONFLICT_PAUSE_MAX = 1.0


def _pause_after_conflict(attempt: int) -> None:
    """Wait before running a transaction again after its attempt-th conflict (counted from 0):
    writers that collided and started again at once would collide again."""
    time.sleep(random.uniform(0, min(CONFLICT_PAUSE_MAX, CONFLICT_PAUSE * 2**attempt)))

#: The engine a Database uses when none is named (tests switch it to run on both).
DEFAULT_ENGINE = "lmdb"
#: The path of a private in-memory database.
MEMORY = ":memory:"

_registry: dict[str, "_Shared"] = {}
_registry_lock = threading.Lock()


class _Shared:
    """One engine per real path, shared by every Database handle on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.refs = 0
        self.catalog: Catalog | None = None
        self.meta: Any = None
        self.lock = threading.RLock()  # serialises attaches


class Database:
    """A database: an engine plus the catalog of its tables.

    ``Database(path)`` opens (or creates: directory 0700, files 0600, unless
    ``readonly``) an LMDB database. LMDB maps ``maxsize_limit`` bytes of
    address space at open (the file grows only as pages are written); where
    the address space is short it starts at ``maxsize`` and grows between
    transactions (docs/orm.md, "When the map fills").

    ``engine`` picks the engine: "lmdb" (default) or "memory";
    ``Database(":memory:")`` is a private in-memory database and
    ``Database("postgresql://...")`` one in PostgreSQL (engine "postgres";
    ``path`` is then the URL with its password redacted).

    Opening a path that is already open in this process (by any spelling)
    shares the same engine; each handle is closed on its own and the engine
    when the last handle closes.
    """

    def __init__(self, path: str | os.PathLike[str], maxsize: int = 2**30, readonly: bool = False,
                 sync: bool = True, *, maxsize_limit: int = 2**40, max_tables: int = 512,
                 engine: str | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 65536:
            raise InvalidArgument(f"maxsize must be an int >= 65536 bytes, got {maxsize!r}")
        url = is_url(path)
        kind = engine or (ENGINES[1] if os.fspath(path) == MEMORY else "postgres" if url else DEFAULT_ENGINE)
        if kind not in ENGINES:
            raise InvalidArgument(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
        if (kind == "postgres") != url:
            shown = redact(path) if url else os.fspath(path)  # type: ignore[arg-type]
            raise InvalidArgument(f"the postgres engine opens a postgresql:// URL and only it; got {shown!r} "
                                  f"for engine {kind!r}")
        self.engine_name = kind
        if url:
            self.path = redact(path)  # type: ignore[arg-type]
        else:
            self.path = MEMORY if os.fspath(path) == MEMORY else os.path.realpath(os.fspath(path))
        self.readonly = readonly
        with _registry_lock:
            key = f"{kind}:{path if url else self.path}"
            shared = None if self.path == MEMORY else _registry.get(key)
            if shared is None:
                if kind == "lmdb":
                    opened = self._open_lmdb(maxsize, maxsize_limit, readonly, sync, max_tables)
                else:
                    opened = open_engine(kind, path if url else self.path, readonly=readonly)  # type: ignore[arg-type]
                shared = _Shared(opened)
                if self.path != MEMORY:
                    _registry[key] = shared
            elif shared.engine.readonly and not readonly:
                raise DatabaseError(f"database {self.path} is already open read-only in this process; "
                                    "close that handle before opening it for writing")
            shared.refs += 1
        self._shared: _Shared | None = shared
        self._key = key
        self._engine = shared.engine
        self.max_key_size = shared.engine.max_key_size
        try:
            self._init_system_tables()
        except BaseException:
            self.close()
            raise

    def _open_lmdb(self, maxsize: int, maxsize_limit: int, readonly: bool, sync: bool,
                   max_tables: int) -> Engine:
        path = self.path
        if readonly:
            if not database_exists(path):
                raise DatabaseNotFound(f"no database at {path} (read-only open does not create one)")
        else:
            if os.path.exists(path) and not os.path.isdir(path):
                raise DatabaseError(f"{path} exists and is not a database directory")
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)
        engine = open_engine("lmdb", path, maxsize=maxsize, maxsize_limit=maxsize_limit, readonly=readonly,
                             sync=sync, max_tables=max_tables)
        if not readonly:
            for name in ("data.mdb", "lock.mdb"):
                f = os.path.join(path, name)
                if os.path.exists(f):
                    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
        return engine

    def _init_system_tables(self) -> None:
        shared = self._live()
        with shared.lock:
            if shared.catalog is not None:
                return
            engine = shared.engine
            writer = engine.thread_write_txn()
            create = not engine.readonly
            cat = engine.open_table(CATALOG_TABLE, create, writer)
            meta = engine.open_table(META_TABLE, create, writer)
            if cat is None or meta is None:
                raise DatabaseError(f"{self.path} is not an orm database (no catalog)")
            shared.catalog, shared.meta = Catalog(cat), meta

    # -- lifecycle -----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._shared is None

    def close(self) -> None:
        shared, self._shared = self._shared, None
        if shared is None:
            return
        with _registry_lock:
            shared.refs -= 1
            if shared.refs == 0:
                if _registry.get(self._key) is shared:
                    del _registry[self._key]
                shared.engine.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<orm.Database {self.path}{' (read-only)' if self.readonly else ''}{' closed' if self.closed else ''}>"

    def _live(self) -> _Shared:
        if self._shared is None:
            raise DatabaseClosed(f"database {self.path} is closed")
        return self._shared

    # -- notifications ---------------------------------------------------------

    @property
    def notifies_other_processes(self) -> bool:
        """True if notifications reach listeners in other processes: on PostgreSQL only.

        LMDB and memory databases accept ``txn.notify`` and ``listen`` and
        deliver nothing; other processes see their changes by reading.
        """
        return self._live().engine.notifies_other_processes

    def listen(self, channel: str, callback: Callable[[str], None],
               on_error: Callable[[DatabaseError], None] | None = None) -> Subscription:
        """Call callback(payload) for each notification on channel committed by another process.

        ``txn.notify(channel, payload)`` sends one when txn commits. On
        PostgreSQL a thread of its own holds a connection in LISTEN and runs
        callback; notifications sent through this process's own handles on
        the database are not delivered back. A lost connection is reopened,
        and notifications sent meanwhile are missed: on_error (on the same
        thread) hears of the loss and of every failed reconnect. LMDB and
        memory databases deliver nothing (``notifies_other_processes``).
        ``stop()`` the result to stop listening.
        """
        return self._live().engine.listen(channel, callback, on_error)

    # -- transactions ----------------------------------------------------------

    def begin(self, write: bool = False, single: bool = False) -> Transaction:
        """A transaction; use ``with db.begin(write=True) as txn:`` (commit on success, abort on error).

        ``single=True``: a reader making one read (one lookup), which on PostgreSQL
        then costs one round trip, no BEGIN/COMMIT: that read is its own snapshot.
        """
        shared = self._shared
        if shared is None:
            raise DatabaseClosed(f"database {self.path} is closed")
        if write and self.readonly:
            raise ReadOnlyError(f"database {self.path} was opened read-only")
        if reactor_guard.thread == threading.get_ident():
            reactor_guard.check(self.path)
        return shared.engine.begin(write, single)

    def transact(self, fn: Callable[[Transaction], T], retries: int = 3, *, conflicts_only: bool = False) -> T:
        """fn(txn) in a write transaction, committed; the whole of it runs again on a retryable error.

        Retryable errors (``exc.retryable``): the map filled and can grow, a
        conflict with a concurrent transaction, a lost connection. The failed
        attempt wrote nothing; fn must not keep effects outside the transaction
        (or must make them idempotent). After ``retries`` retries the error is raised.
        A conflict is run again after a random pause that doubles per attempt:
        writers that collided and started again at once would collide again.
        ``conflicts_only``: any other error is raised at once, for callers that
        handle an unreachable database themselves (each attempt would wait out
        the connection timeout).
        """
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgument(f"retries must be an int >= 0, got {retries!r}")
        attempt = 0
        while True:
            try:
                with self.begin(write=True) as txn:
                    return fn(txn)
            except Error as exc:
                if not exc.retryable or attempt >= retries or (conflicts_only and not isinstance(exc, Conflict)):
                    raise
                if isinstance(exc, Conflict):
                    _pause_after_conflict(attempt)
                attempt += 1

    # -- catalog ---------------------------------------------------------------

    def catalog(self) -> dict[int, dict[str, Any]]:
        """Every slot's stored entry."""
        with self.begin() as txn:
            return self._live().catalog.entries(txn)  # type: ignore[union-attr]

    def attach_tables(self, tables: Iterable[tuple[str, Table]]) -> None:
        """Bind tables (name, table) to this database, checking and recording them in the catalog."""
        tables = list(tables)
        check_batch(tables)
        shared = self._live()
        engine = shared.engine
        with shared.lock:
            writer = engine.thread_write_txn()
            if writer is not None:
                self._register(writer, tables)
                writer.on_abort(lambda: self._register_fresh(tables))
            else:
                self._register_fresh(tables)

    def _register_fresh(self, tables: list[tuple[str, Table]]) -> None:
        if self._shared is None:
            return
        if self.readonly:
            with self.begin() as txn:
                self._register(txn, tables)
            return
        # Processes registering the same tables at once (routers starting together on a fresh
        # PostgreSQL schema) conflict on the catalog; the loser runs again and finds them recorded.
        # Only conflicts: an unreachable server is reported at once, not after 20 timeouts.
        self.transact(lambda txn: self._register(txn, tables), _REGISTER_ATTEMPTS - 1, conflicts_only=True)

    def _register(self, txn: Transaction, tables: list[tuple[str, Table]]) -> None:
        catalog: Catalog = self._live().catalog  # type: ignore[assignment]
        for name, tab in tables:
            tab.name = name
        catalog.assign_slots(txn, [t for _, t in tables])
        check_batch(tables)
        backfill: list[tuple[Table, str]] = []
        for name, tab in tables:
            stored = catalog.get(txn, tab.slot)  # type: ignore[arg-type]
            if catalog.verify(txn, tab, stored):
                if self.readonly:
                    raise SchemaError(f"table {name!r} (slot {tab.slot}) is not recorded in read-only database "
                                      f"{self.path}")
                catalog.put(txn, entry_for(tab))
                backfill.extend((tab, i) for i in catalog.new_indexes(tab, stored))
            handle = self._engine.open_table(table_name(tab.slot), not self.readonly, txn)  # type: ignore[arg-type]
            if handle is None:
                raise SchemaError(f"table {name!r} (slot {tab.slot}) does not exist in read-only database {self.path}")
            tab._bind(self, name, tab.slot, handle)  # type: ignore[arg-type]
        for tab, index_name in backfill:  # an index added to a table that already has records
            tab.rebuild_index(txn, index_name)

    def stored_table(self, entry: dict[str, Any], txn: Transaction | None = None) -> Table | None:
        """A table declared from its catalog entry alone, or None if it holds no data yet.

        For tools that read records as stored (migrations, dumps, checks): CBOR
        values come back as plain dicts, FlatBuffers values as bytes. Nothing
        is written to the catalog. Bind before beginning a read transaction, or
        pass this thread's write transaction.
        """
        slot, kind, key, value = entry["slot"], entry.get("kind"), entry.get("key"), entry.get("value", "")
        if kind == "set" and value.startswith("set(") and value.endswith(")"):
            tab: Table = SetMap(slot, key=key, member=value[4:-1])
        elif kind == "map":
            tab = Map(slot, key=key, value="bytes" if value == "flatbuffers" else value)
        else:
            raise SchemaError(f"table {entry.get('name')!r} (slot {slot}): unknown table kind {kind!r}")
        handle = self._live().engine.open_table(table_name(slot), False, txn)
        if handle is None:
            return None
        tab._bind(self, entry["name"], slot, handle)
        return tab

    # -- metadata ----------------------------------------------------------------

    def get_meta(self, txn: Transaction, key: str, default: Any = None) -> Any:
        raw = txn.get(self._live().meta, key.encode())
        return default if raw is None else cbor2.loads(raw)

    def set_meta(self, txn: Transaction, key: str, value: Any) -> None:
        txn.put(self._live().meta, key.encode(), cbor2.dumps(value))

    # -- maintenance -------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Size and usage figures plus each catalogued table's entry count."""
        shared = self._live()
        info = shared.engine.info()
        info["path"] = self.path
        tables = []
        entries = self.catalog()
        # Handles first: a transaction cannot use a handle opened after it began.
        handles = {slot: shared.engine.open_table(table_name(slot), False) for slot in entries}
        with self.begin() as txn:
            for slot, entry in sorted(entries.items()):
                handle = handles[slot]
                tables.append({**entry, "entries": 0 if handle is None else txn.count(handle)})
        info["tables"] = tables
        return info

    def backup(self, dest: str | os.PathLike[str], compact: bool = True) -> str:
        """A consistent copy into the new or empty directory dest (0700, files 0600).

        The copy is built in a hidden temporary sibling of dest, synced and
        then renamed: a backup cut short (an error, a full disk, a kill) never
        carries dest's name. Returns dest's real path.
        """
        dest = os.path.realpath(os.fspath(dest))
        _check_backup_dest(dest)
        tmp = atomic.temp_dir(dest, BACKUP_PURPOSE)
        try:
            try:
                self._live().engine.copy(tmp, compact=compact)
            except Exception as exc:
                raise DatabaseError(f"backup of {self.path} to {dest} failed: {exc}") from exc
            for entry in os.listdir(tmp):
                os.chmod(os.path.join(tmp, entry), 0o600)
            crashpoint.reached("backup-copied")
            try:
                atomic.publish(tmp, dest)
            except OSError as exc:
                _check_backup_dest(dest)  # filled meanwhile: say so
                raise DatabaseError(f"backup of {self.path} to {dest} failed: {exc.strerror or exc}") from None
        except BaseException:
            atomic.discard(tmp)
            raise
        return dest


#: The <purpose> part of a backup's temporary name (see orm.atomic).
BACKUP_PURPOSE = "backup-partial"


def _check_backup_dest(dest: str) -> None:
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise DatabaseError(f"backup destination {dest} must be a new or empty directory")
