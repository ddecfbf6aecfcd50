"""The PostgreSQL engine: the engine protocol over one PostgreSQL schema, for several hosts at once.

Storage: a database is a PostgreSQL schema (``?schema=`` in the URL, default
``cfxstore``) holding two tables: ``kv (tab, key, value)`` with primary key
``(tab, key)`` - every orm table's entries, keys as ``bytea`` so PostgreSQL's
bytewise ``bytea`` order is orm's key order - and ``tables (name)``, the
names of the orm tables that exist.

Transactions: each takes a pooled connection (psycopg_pool) for its
lifetime. Writers run SERIALIZABLE, readers REPEATABLE READ READ ONLY (a
snapshot). Unlike LMDB several writers run at once, in this process and on
other hosts; when PostgreSQL finds that they could not have run one after
the other (SQLSTATE 40001, or a deadlock 40P01) it rolls one back and this
engine raises ``orm.Conflict`` (retryable): ``Database.transact`` runs it
again, so nothing is silently lost.

Costs: ``get``/``put``/``insert``/``delete`` are one statement (one round
trip) each; ``get_through`` (a record through a unique index, what
``Map.get_by_index`` reads) is one statement too, and so are ``get_many``
and ``get_many_through`` for any number of keys; a reader begun with
``single=True`` sends no BEGIN/COMMIT (each statement is its own snapshot),
so a single lookup costs one round trip; ``iterate`` reads in ordered pages (keyset pagination on the
primary key, 64 rows first, growing to 4096), so a scan streams and never
holds the whole range; ``count`` is ``count(*)`` over the table's part of
the primary key index: it reads every key of that table (an index scan, no
values), O(n) - there is no counter row, because one would make every pair
of concurrent writers to a table conflict.

Writes that need no answer (``put``, ``put_many``, ``discard``, ``put_group``)
wait in the client and go as multi-row statements with the next statement or
the COMMIT; a writer's BEGIN waits too, so a transaction that only writes is
one round trip. ``statements`` and ``round_trips`` count what was sent.

Deadlines: every round trip gets the URL's ``timeout``; one without an answer
by then (a path that drops packets) is ended by shutting its socket down and
fails as a lost connection (_Deadlines).

Every connection sets ``application_name`` to ``cfxstore:<schema>:<pid>@<host>``
(then the URL's own application_name, if any; see pgurl.application_name), so
``pg_stat_activity`` tells which processes on which hosts use a schema.

Errors never carry the URL's password (see pgurl.redact / scrub).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import threading
import time
from typing import Any, Callable, Iterator

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout

from . import pgurl
from ..errors import (Conflict, DatabaseError, DatabaseNotFound, Error, ReadOnlyError, TransactionError,
                      ValueCodecError)
from .hooks import TransactionHooks, check_new_writer
from .lmdb import LmdbEngine
from .memory import MAX_KEY_SIZE, _check_key  # LMDB's limit: databases copy between engines both ways

_FIRST_PAGE, _LAST_PAGE = 64, 4096
#: Pending puts sent at once when this many wait (bounds the client's memory and one statement's size).
_FLUSH_AT = 10_000
_BEGIN_WRITE = b"BEGIN ISOLATION LEVEL SERIALIZABLE"
_BEGIN_READ = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1"
_CONFLICTS = (pgerrors.SerializationFailure, pgerrors.DeadlockDetected, pgerrors.UniqueViolation)


class PostgresEngine:
    """One orm database in a PostgreSQL schema (see the module docstring)."""

    max_key_size = MAX_KEY_SIZE
    #: LISTEN/NOTIFY: every engine on this database, in any process on any host, hears them.
    notifies_other_processes = True

    def __init__(self, url: str, *, readonly: bool) -> None:
        self._url = url
        parsed = pgurl.parse(url)
        self.path = parsed.redacted
        self.readonly = readonly
        self.schema = parsed.schema
        self._local = threading.local()
        self._known: set[str] = set()
        self._conninfo = parsed.conninfo
        #: Every connection carries it, so pg_stat_activity tells which processes use this schema.
        self.application_name = parsed.application_name
        #: Tags this engine's notifications, so its own listeners can skip them.
        self.origin = secrets.token_hex(8)
        self._sql = _Statements(parsed.schema)
        # reconnect_timeout: a reconnection gives up after `timeout` (the pool's backoff doubles its wait each
        # time, up to minutes after a long outage); the next request starts a fresh one at once.
        #: Statements sent and round trips made by this engine's transactions (what a batch costs).
        self.statements = 0
        self.round_trips = 0
        self._tally_lock = threading.Lock()
        self.deadlines = _Deadlines(parsed.timeout)
        self._pool = ConnectionPool(parsed.conninfo, min_size=parsed.pool_min, max_size=parsed.pool_max,
                                    timeout=parsed.timeout, reconnect_timeout=parsed.timeout, open=False,
                                    name=f"orm:{parsed.schema}",
                                    kwargs={"autocommit": True, "connect_timeout": max(1, int(parsed.timeout)),
                                            "application_name": parsed.application_name})
        try:
            try:
                self._pool.open(wait=True, timeout=parsed.timeout)
            except PoolTimeout:
                raise DatabaseError(f"opening the database: PostgreSQL at {self.path} is unreachable: "
                                    f"{self._refusal(parsed.timeout)}", retryable=False) from None
            self._prepare_schema()
        except BaseException:
            self._pool.close()
            raise

    # -- errors ------------------------------------------------------------------

    def error(self, exc: BaseException, doing: str, retryable: bool = True) -> Error:
        """An orm error for a psycopg/pool exception, without credentials."""
        if isinstance(exc, _CONFLICTS):
            return Conflict(f"{doing} on {self.path} conflicted with a concurrent transaction and was rolled back; "
                            "run it again")
        if isinstance(exc, PoolTimeout):
            return DatabaseError(f"{doing}: PostgreSQL at {self.path} is unreachable or has no free connection "
                                 f"({pgurl.scrub(str(exc), self._url)})", retryable=retryable)
        if isinstance(exc, pgerrors.InFailedSqlTransaction):
            return TransactionError(f"{doing} on {self.path}: an earlier statement of this transaction failed; "
                                    "abort it")
        message = pgurl.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, self._url)
        lost = isinstance(exc, psycopg.OperationalError)
        return DatabaseError(f"{doing} on {self.path} failed: {message}", retryable=retryable and lost)

    def _refusal(self, timeout: float) -> str:
        """Why connecting fails, in libpq's words on one line (the pool keeps its attempts' errors to itself).

        A multi-host URL's attempt fails with a line per server; servers that are all
        read-only (standbys, none promoted) under ``target_session_attrs=read-write`` are named as such.
        """
        try:
            psycopg.connect(self._conninfo, connect_timeout=max(1, int(timeout)), autocommit=True).close()
        except psycopg.Error as exc:
            lines = [line.strip().removeprefix("connection failed: ") for line in str(exc).splitlines()]
            lines = [line for line in lines if line.startswith("connection to")]
            reasons = [line.rpartition(" failed: ")[2] for line in lines]
            text = pgurl.scrub("; ".join(lines) or str(exc).strip().replace("\n", " "), self._url)
            if reasons and all("read-only" in r or "standby" in r for r in reasons):
                text += " (every server listed is read-only: promote a standby or list the primary)"
            return text
        return "no connection within the timeout"

    # -- lifecycle ---------------------------------------------------------------

    def _prepare_schema(self) -> None:
        s = self.schema
        try:
            with self._pool.connection() as conn, conn.transaction():
                if self.readonly:
                    row = conn.execute("SELECT to_regclass(%s), to_regclass(%s)", (f"{s}.kv", f"{s}.tables")).fetchone()
                    if row is None or None in row:
                        raise DatabaseNotFound(f"no orm database in schema {s!r} at {self.path} "
                                               "(read-only open does not create one)")
                    return
                # One creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"orm-schema:{s}",))
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{s}"')
                conn.execute(f'CREATE TABLE IF NOT EXISTS "{s}".kv (tab text COLLATE "C" NOT NULL, '
                             'key bytea NOT NULL, value bytea NOT NULL, PRIMARY KEY (tab, key))')
                conn.execute(f'CREATE TABLE IF NOT EXISTS "{s}".tables (name text COLLATE "C" PRIMARY KEY)')
        except (psycopg.Error, PoolTimeout) as exc:
            raise self.error(exc, "opening the database", retryable=False) from None

    def close(self) -> None:
        self._pool.close()

    def listen(self, channel: str, callback: Callable[[str], None],
               on_error: Callable[[DatabaseError], None] | None = None) -> "Listener":
        """Call callback(payload) for every notification on channel from other engines (see Listener)."""
        return Listener(self, channel, callback, on_error)

    def channel(self, name: str) -> str:
        """The PostgreSQL channel of name in this database (channels are server-wide, so the schema is in it)."""
        return f"{self.schema}:{name}"

    # -- transactions --------------------------------------------------------------

    def begin(self, write: bool, single: bool = False) -> "PostgresTransaction":
        if write:
            check_new_writer(self)
        if single and not write:
            # No snapshot to take: the connection is in autocommit, so the one read is its own snapshot.
            return PostgresTransaction(self, self._getconn(), write, reconnects=self._pool.max_size, single=True)
        if write:
            # BEGIN waits for the first statement or the commit and goes with it: a transaction that only
            # writes (a write-behind batch) is one round trip, BEGIN to COMMIT.
            txn = PostgresTransaction(self, self._getconn(), write, reconnects=self._pool.max_size, begun=False)
            self._local.writer = txn
            return txn
        return PostgresTransaction(self, self._connect(_BEGIN_READ), write)

    def _connect(self, begin: bytes) -> psycopg.Connection:
        """A pooled connection with a transaction begun on it.

        A connection the server dropped (a restart, a failover, an idle
        timeout) fails here before anything was done; the pool discards it and
        the next one is tried, so the first transaction after the server is
        back succeeds instead of every pooled connection failing once.
        """
        for _ in range(self._pool.max_size + 1):
            conn = self._getconn()
            try:
                # One round trip that also takes the snapshot now, as LMDB's begin does
                # (PostgreSQL would otherwise take it at the first read).
                with self.deadlines.watch(conn) as expired:
                    conn.execute(begin)
                self.tally(1)
                return conn
            except psycopg.OperationalError as exc:
                self._pool.putconn(conn)
                lost = exc
                if expired[0]:
                    break  # no answer within the timeout: the path to the server is gone, not this connection
            except psycopg.Error as exc:
                self._pool.putconn(conn)
                raise self.error(exc, "beginning a transaction") from None
        raise self.error(lost, "beginning a transaction") from None

    def tally(self, statements: int, round_trips: int = 1) -> None:
        with self._tally_lock:
            self.statements += statements
            self.round_trips += round_trips

    def _getconn(self) -> psycopg.Connection:
        try:
            return self._pool.getconn()
        except PoolTimeout as exc:
            raise self.error(exc, "beginning a transaction") from None

    def thread_write_txn(self) -> "PostgresTransaction | None":
        return getattr(self._local, "writer", None)

    def _release(self, txn: "PostgresTransaction") -> None:
        if txn.write and getattr(self._local, "writer", None) is txn:
            self._local.writer = None
        self._pool.putconn(txn._conn)

    # -- tables ------------------------------------------------------------------

    def open_table(self, name: str, create: bool, txn: "PostgresTransaction | None" = None) -> str | None:
        if name in self._known:
            return name
        writer = txn if txn is not None and txn.write else self.thread_write_txn()
        if writer is not None:
            return self._open_in(writer, name, create)
        if txn is not None or not create or self.readonly:
            if txn is not None:
                return self._open_in(txn, name, False)
            with self.begin(write=False) as t:
                return self._open_in(t, name, False)
        for _ in range(10):  # concurrent creators of one name conflict; the loser finds it created
            try:
                with self.begin(write=True) as t:
                    return self._open_in(t, name, True)
            except Conflict:
                continue
        raise DatabaseError(f"could not create table {name!r} in {self.path}: too many concurrent conflicts")

    def _open_in(self, txn: "PostgresTransaction", name: str, create: bool) -> str | None:
        if txn._one(self._sql.table_exists, (name,), f"opening table {name!r}") is not None:
            self._known.add(name)
            return name
        if not create or not txn.write:
            return None
        txn._run(self._sql.table_create, (name,), f"creating table {name!r}")
        txn.on_commit(lambda: self._known.add(name))
        return name

    # -- maintenance ---------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        try:
            with self._pool.connection() as conn:
                [(used, page)] = conn.execute("SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s), "
                                              "current_setting('block_size')::int",
                                              (f"{self.schema}.kv", f"{self.schema}.tables")).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise self.error(exc, "reading sizes", retryable=False) from None
        return {"engine": "postgres", "url": self.path, "schema": self.schema, "map_size": used, "used_bytes": used,
                "page_size": page}

    def table_names(self, txn: "PostgresTransaction") -> list[str]:
        """Every table's name, in txn's snapshot."""
        return [row[0] for row in txn._all(self._sql.table_list, (), "listing tables")]

    def copy(self, dest: str, compact: bool) -> None:
        """Export a snapshot into a new LMDB database at dest: a backup of PostgreSQL is an LMDB database."""
        with self.begin(write=False) as txn:
            names = self.table_names(txn)
            size = txn._one(self._sql.data_size, (), "sizing the copy")[0] or 0
            size = 2 * int(size) + (1 << 22)
            out = LmdbEngine(dest, maxsize=size, maxsize_limit=size, readonly=False, sync=True,
                             max_tables=max(len(names), 1))
            try:
                with out.begin(write=True) as wtxn:
                    for name in names:
                        handle = out.open_table(name, True, wtxn)
                        batch: list[tuple[bytes, bytes]] = []
                        for pair in txn.iterate(name, None, None):
                            batch.append(pair)
                            if len(batch) >= 10_000:
                                wtxn.put_many(handle, batch)
                                batch = []
                        wtxn.put_many(handle, batch)
            finally:
                out.close()


class _Deadlines:
    """Ends a round trip that outlasts the URL's ``timeout``: its socket is shut down, so the waiting thread
    gets a lost connection at once (a path that drops packets gives no error of its own, and TCP would
    wait for many minutes). One thread per engine, started at the first round trip."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, int, list[bool]]] = {}  # token -> (deadline, socket fd, [expired])
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, conn: psycopg.Connection) -> Iterator[list[bool]]:
        """Watch one round trip on conn; yields [expired], True once its deadline ended it."""
        expired = [False]
        try:
            fd = conn.pgconn.socket
        except psycopg.Error:
            yield expired  # already broken: the call fails by itself
            return
        token = next(self._tokens)
        with self._cond:
            self._due[token] = (time.monotonic() + self.seconds, fd, expired)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="orm postgres deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            yield expired
        finally:
            with self._cond:
                self._due.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (due, fd, expired) in list(self._due.items()):
                    if due <= now:
                        del self._due[token]
                        expired[0] = True
                        _shut(fd)  # under the lock: the call has not returned, so fd is still its socket
                soonest = min((due for due, _, _ in self._due.values()), default=None)
                self._cond.wait(None if soonest is None else max(0.0, soonest - now))


def _shut(fd: int) -> None:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


class _Statements:
    """The SQL of one schema, built once."""

    def __init__(self, schema: str) -> None:
        kv, tables = f'"{schema}".kv', f'"{schema}".tables'
        self.kv = kv
        self.get = f"SELECT value FROM {kv} WHERE tab = %s AND key = %s"
        # A unique index entry's value is its record's primary key.
        self.get_through = (f"SELECT r.value FROM {kv} i JOIN {kv} r ON r.tab = %s AND r.key = i.value "
                            "WHERE i.tab = %s AND i.key = %s")
        self.get_many = f"SELECT key, value FROM {kv} WHERE tab = %s AND key = ANY(%s::bytea[])"
        self.get_many_through = (f"SELECT r.value FROM {kv} i JOIN {kv} r ON r.tab = %s AND r.key = i.value "
                                 "WHERE i.tab = %s AND i.key = ANY(%s::bytea[])")
        self.put = (f"INSERT INTO {kv} (tab, key, value) VALUES (%s, %s, %s) "
                    "ON CONFLICT (tab, key) DO UPDATE SET value = EXCLUDED.value")
        self.insert = f"INSERT INTO {kv} (tab, key, value) VALUES (%s, %s, %s) ON CONFLICT (tab, key) DO NOTHING"
        self.replace = (f"WITH old AS (SELECT value FROM {kv} WHERE tab = %s AND key = %s), "
                        f"new AS ({self.put}) SELECT value FROM old")
        self.delete = f"DELETE FROM {kv} WHERE tab = %s AND key = %s"
        self.put_many = (f"INSERT INTO {kv} (tab, key, value) SELECT * FROM unnest(%s::text[], %s::bytea[], "
                         "%s::bytea[]) ON CONFLICT (tab, key) DO UPDATE SET value = EXCLUDED.value")
        # Rows rewritten only where they are stored (a record whose indexes are unchanged, written over
        # the version its writer read): an UPDATE, cheaper for the server than a group's statement.
        self.update_many = (f"UPDATE {kv} k SET value = r.value FROM unnest(%s::text[], %s::bytea[], "
                            "%s::bytea[]) AS r(tab, key, value) WHERE k.tab = r.tab AND k.key = r.key")
        self.discard_many = (f"DELETE FROM {kv} d USING unnest(%s::text[], %s::bytea[]) AS r(tab, key) "
                             "WHERE d.tab = r.tab AND d.key = r.key")
        # Groups of puts and deletions, each applied whole unless its guard row holds a value at or
        # above its bound (bytewise) and, if it names one, only while its record row exists.
        self.put_groups = (
            f"WITH c AS (SELECT * FROM unnest(%s::int[], %s::text[], %s::bytea[], %s::bytea[], %s::text[], "
            "%s::bytea[]) AS c(g, gtab, gkey, gmin, etab, ekey)), "
            f"ok AS (SELECT c.g FROM c WHERE (c.gtab IS NULL OR NOT EXISTS (SELECT 1 FROM {kv} m "
            "WHERE m.tab = c.gtab AND m.key = c.gkey AND m.value >= c.gmin)) "
            f"AND (c.etab IS NULL OR EXISTS (SELECT 1 FROM {kv} e WHERE e.tab = c.etab AND e.key = c.ekey))), "
            "r AS (SELECT r.* FROM unnest(%s::int[], %s::text[], %s::bytea[], %s::bytea[]) AS r(g, tab, key, value) "
            "JOIN ok USING (g)), "
            f"gone AS (DELETE FROM {kv} d USING r WHERE r.value IS NULL AND d.tab = r.tab AND d.key = r.key) "
            f"INSERT INTO {kv} (tab, key, value) SELECT tab, key, value FROM r WHERE value IS NOT NULL "
            "ON CONFLICT (tab, key) DO UPDATE SET value = EXCLUDED.value")
        self.count = f"SELECT count(*) FROM {kv} WHERE tab = %s"
        self.drop = f"DELETE FROM {kv} WHERE tab = %s"
        self.table_exists = f"SELECT 1 FROM {tables} WHERE name = %s"
        self.table_create = f"INSERT INTO {tables} (name) VALUES (%s) ON CONFLICT DO NOTHING"
        self.table_list = f"SELECT name FROM {tables} ORDER BY name"
        self.data_size = f"SELECT sum(length(key) + length(value) + 64) FROM {kv}"
        self.notify = "SELECT pg_notify(%s, %s)"
        self._pages: dict[tuple[str, str, bool], str] = {}

    def page(self, low: str, high: str, reverse: bool) -> str:
        """A page query; low is "", ">=" or ">", high is "" or "<"; parameters: tab, [low], [high], limit."""
        sql = self._pages.get((low, high, reverse))
        if sql is None:
            where = "tab = %s" + (f" AND key {low} %s" if low else "") + (f" AND key {high} %s" if high else "")
            sql = (f"SELECT key, value FROM {self.kv} WHERE {where} "
                   f"ORDER BY key{' DESC' if reverse else ''} LIMIT %s")
            self._pages[(low, high, reverse)] = sql
        return sql


def _rewrite(group: tuple[list[tuple[str, bytes, bytes | None]], Any, Any]) -> bool:
    """Whether a put_group is one row written only if that row is stored (and nothing else checked)."""
    rows, guard, exists = group
    return guard is None and len(rows) == 1 and rows[0][2] is not None and exists == rows[0][:2]


class PostgresTransaction(TransactionHooks):
    """One transaction on one pooled connection.

    Writes that need no answer (``put``, ``put_many``, ``discard``, ``put_group``) wait in
    the client and go to the server as a few multi-row statements, pipelined with the next
    statement that needs an answer, or with the COMMIT (and a writer's BEGIN, which also
    waits for its first statement): a writer that only writes costs one round trip.
    """

    def __init__(self, engine: PostgresEngine, conn: psycopg.Connection, write: bool, reconnects: int = 0,
                 begun: bool = True, single: bool = False) -> None:
        self._engine = engine
        # Before anything was sent (a single read, or a writer not begun yet) another connection is
        # tried when the pooled one turns out to be dropped (a restart, a failover).
        self._reconnects = reconnects
        self._conn = conn
        self._cur = conn.cursor(binary=True)
        self._sql = engine._sql
        self.write = write
        self._begun = begun
        self._single = single  # no transaction: every statement is its own
        self._done = False
        self._failed: Error | None = None
        self._writes = 0  # bumped by every write, so an iteration knows its page went stale
        # Puts (bytes) and deletions (None) wait here: what the transaction reads is unchanged.
        self._pending: dict[tuple[str, bytes], bytes | None] = {}
        # put_group's groups waiting: (rows, guard, exists), the keys they write, and every key they write
        # or check. Plain writes and groups that touch no key of each other wait side by side (one
        # statement each at the end, whatever their interleaving); one that does sends the other first.
        self._groups: list[tuple[list[tuple[str, bytes, bytes | None]], Any, Any]] = []
        self._group_keys: set[tuple[str, bytes]] = set()
        self._group_touch: set[tuple[str, bytes]] = set()
        # Statements made of waiting writes, in order, sent with the next one that needs an answer.
        self._queued: list[tuple[str, tuple]] = []

    # -- statements ----------------------------------------------------------------

    def _usable(self, doing: str) -> None:
        if self._done:
            raise TransactionError("the transaction has ended")
        if self._failed is not None:
            # PostgreSQL refuses every later statement; repeat the first failure's
            # kind so a conflict stays retryable wherever it is noticed.
            raise type(self._failed)(f"{doing}: {self._failed}", retryable=self._failed.retryable)

    def _run(self, sql: str, params: tuple, doing: str) -> psycopg.Cursor:
        self._usable(doing)
        self._queue_writes()
        return self._send([*self._queued, (sql, params)], doing)

    def _send(self, statements: list[tuple[str, tuple]], doing: str) -> psycopg.Cursor:
        """Send statements (after BEGIN if not begun) in one round trip; the cursor of the last one."""
        self._queued = []
        while True:
            try:
                with self._engine.deadlines.watch(self._conn) as expired:
                    if self._begun and len(statements) == 1:
                        cur = self._cur.execute(*statements[0])
                    else:
                        cur = self._pipeline(statements)
                self._engine.tally(len(statements) + (not self._begun))
                self._begun = True
                return cur
            except psycopg.OperationalError as exc:
                # Nothing was begun before: the statements (deferred writes, which may be sent again,
                # or one read) meet a connection the server dropped while it was pooled.
                if not self._reconnects or (self._begun and not self._single) or expired[0]:
                    self._failed = self._engine.error(exc, doing)
                    raise self._failed from None
                self._reconnects -= 1
                self._engine._pool.putconn(self._conn)  # the pool checks it and discards it if broken
                self._conn = self._engine._getconn()
                self._cur = self._conn.cursor(binary=True)
            except psycopg.Error as exc:
                self._failed = self._engine.error(exc, doing)
                raise self._failed from None

    def _pipeline(self, statements: list[tuple[str, tuple]]) -> psycopg.Cursor:
        conn, cur = self._conn, self._cur
        with conn.pipeline():
            if not self._begun:
                cur.execute(_BEGIN_WRITE if self.write else _BEGIN_READ)
            for sql, params in statements:
                cur = conn.cursor(binary=True)
                cur.execute(sql, params)
        return cur

    def _queue_writes(self) -> None:
        """Turn the waiting writes into statements (queued, in the order they were made)."""
        if self._pending:
            self._queue_pending()
        if self._groups:
            self._queue_groups()

    def _queue_pending(self) -> None:
        """Puts as one upsert (the last value of a key wins, as with single puts), deletions as one delete."""
        pending, self._pending = self._pending, {}
        puts = [(h, k, v) for (h, k), v in pending.items() if v is not None]
        gone = [(h, k) for (h, k), v in pending.items() if v is None]
        if puts:
            self._queued.append((self._sql.put_many, ([h for h, _, _ in puts], [k for _, k, _ in puts],
                                                      [v for _, _, v in puts])))
        if gone:
            self._queued.append((self._sql.discard_many, ([h for h, _ in gone], [k for _, k in gone])))

    def _queue_groups(self) -> None:
        groups, self._groups, self._group_keys, self._group_touch = self._groups, [], set(), set()
        # A group that only rewrites its own stored row goes in one UPDATE, unless another group checks that
        # row (the groups' statement checks every guard against the rows as they were before it).
        rewrites = [_rewrite(g) for g in groups]
        checked = {g[1][:2] for g in groups if g[1]} | {g[2] for g, r in zip(groups, rewrites) if g[2] and not r}
        updates: list[tuple[str, bytes, bytes | None]] = []
        rest: list[tuple[list[tuple[str, bytes, bytes | None]], Any, Any]] = []
        for group, rewrite in zip(groups, rewrites):
            if rewrite and group[2] not in checked:
                updates.append(group[0][0])
            else:
                rest.append(group)
        if updates:
            self._queued.append((self._sql.update_many, ([h for h, _, _ in updates], [k for _, k, _ in updates],
                                                         [v for _, _, v in updates])))
        if not rest:
            return
        groups = rest
        cg: list[int] = []
        gtab: list[str | None] = []
        gkey: list[bytes | None] = []
        gmin: list[bytes | None] = []
        etab: list[str | None] = []
        ekey: list[bytes | None] = []
        rg: list[int] = []
        rtab: list[str] = []
        rkey: list[bytes] = []
        rval: list[bytes | None] = []
        for g, (rows, guard, exists) in enumerate(groups):
            cg.append(g)
            gtab.append(guard[0] if guard else None)
            gkey.append(guard[1] if guard else None)
            gmin.append(guard[2] if guard else None)
            etab.append(exists[0] if exists else None)
            ekey.append(exists[1] if exists else None)
            for h, k, v in rows:
                rg.append(g)
                rtab.append(h)
                rkey.append(k)
                rval.append(v)
        self._queued.append((self._sql.put_groups, (cg, gtab, gkey, gmin, etab, ekey, rg, rtab, rkey, rval)))

    def _flush_if_large(self) -> None:
        if len(self._pending) + len(self._group_keys) >= _FLUSH_AT:
            self._queue_writes()
            self._send(self._queued, "writing")

    def _one(self, sql: str, params: tuple, doing: str) -> Any:
        cur = self._run(sql, params, doing)
        try:
            return cur.fetchone()
        except psycopg.Error as exc:
            raise self._engine.error(exc, doing) from None

    def _all(self, sql: str, params: tuple, doing: str) -> list[Any]:
        cur = self._run(sql, params, doing)
        try:
            return cur.fetchall()
        except psycopg.Error as exc:
            raise self._engine.error(exc, doing) from None

    def _writable(self, key: bytes, value: bytes | None = b"") -> None:
        if not self.write:
            raise ReadOnlyError("write inside a read-only transaction (use db.begin(write=True))")
        self._usable("writing")
        _check_key(key)
        if not isinstance(value, bytes):
            raise ValueCodecError(f"value must be bytes after encoding, got {type(value).__name__}")
        self._writes += 1

    # -- reads -----------------------------------------------------------------------

    def get(self, h: str, key: bytes) -> bytes | None:
        _check_key(key)
        row = self._one(self._sql.get, (h, key), f"reading table {h!r}")
        return None if row is None else row[0]

    def get_through(self, index: str, index_key: bytes, h: str) -> bytes | None:
        """The value in table h whose key is the value of index_key in unique index table ``index``."""
        _check_key(index_key)
        row = self._one(self._sql.get_through, (h, index, index_key), f"reading table {h!r} through {index!r}")
        return None if row is None else row[0]

    def get_many(self, h: str, keys: list[bytes]) -> list[tuple[bytes, bytes]]:
        """(key, value) of those of keys that table h holds, in one statement, in no particular order."""
        for key in keys:
            _check_key(key)
        return self._all(self._sql.get_many, (h, list(keys)), f"reading table {h!r}")

    def get_many_through(self, index: str, index_keys: list[bytes], h: str) -> list[bytes]:
        """get_through for many index keys in one statement: the values found, in no particular order."""
        for key in index_keys:
            _check_key(key)
        rows = self._all(self._sql.get_many_through, (h, index, list(index_keys)),
                         f"reading table {h!r} through {index!r}")
        return [row[0] for row in rows]

    def count(self, h: str) -> int:
        return self._one(self._sql.count, (h,), f"counting table {h!r}")[0]

    def iterate(self, h: str, start: bytes | None, stop: bytes | None,
                reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        # Pages in key order; a write in this transaction makes the rest of the
        # current page stale, so the next step re-reads from the last key yielded.
        size, last = _FIRST_PAGE, None
        while True:
            if reverse:
                bound = last if last is not None else stop
                params: tuple[Any, ...] = ((h,) + ((start,) if start is not None else ())
                                           + ((bound,) if bound is not None else ()) + (size,))
                sql = self._sql.page(">=" if start is not None else "", "<" if bound is not None else "", True)
            else:
                low, lbound = (">", last) if last is not None else ((">=", start) if start is not None else ("", None))
                params = (h,) + ((lbound,) if low else ()) + ((stop,) if stop is not None else ()) + (size,)
                sql = self._sql.page(low, "<" if stop is not None else "", False)
            rows = self._all(sql, params, f"scanning table {h!r}")
            writes = self._writes
            for key, value in rows:
                yield key, value
                last = key
                if self._writes != writes:
                    break
            else:
                if len(rows) < size:
                    return
                size = min(size * 4, _LAST_PAGE)

    # -- writes ----------------------------------------------------------------------

    def put(self, h: str, key: bytes, value: bytes) -> None:
        self._writable(key, value)
        self._after_groups(h, key)
        self._pending[(h, key)] = value
        self._flush_if_large()

    def discard(self, h: str, key: bytes) -> None:
        """Delete key if it is there, without telling whether it was (costs no round trip of its own)."""
        self._writable(key)
        self._after_groups(h, key)
        self._pending[(h, key)] = None
        self._flush_if_large()

    def _after_groups(self, h: str, key: bytes) -> None:
        if (h, key) in self._group_touch:
            self._queue_groups()  # a later write of a key a group writes or checks must land after it

    def put_group(self, rows: list[tuple[str, bytes, bytes | None]],
                  guard: tuple[str, bytes, bytes] | None = None, exists: tuple[str, bytes] | None = None) -> None:
        """Write rows (table, key, value; value None deletes) together, costing no round trip of its own:
        none of them if table guard[0] holds at key guard[1] a value bytewise >= guard[2], nor if
        exists names a (table, key) that is not there. Checked when the rows are written, in this
        transaction: a concurrent writer of the guard or of that row conflicts with it."""
        if guard is None and exists is None:
            # Unconditional: plain writes, which the server applies for half the CPU of a group's statement.
            for h, k, v in rows:
                if v is None:
                    self.discard(h, k)
                else:
                    self.put(h, k, v)
            return
        for h, k, v in rows:
            self._writable(k, b"" if v is None else v)
        keys = {(h, k) for h, k, _ in rows}
        touch = keys | {(guard[0], guard[1])} if guard else set(keys)
        if exists:
            touch.add(exists)
        if not touch.isdisjoint(self._pending):
            self._queue_pending()
        if not touch.isdisjoint(self._group_keys):
            # One statement writes a key once, and checks what the rows were before it: a group that
            # writes or checks a key an earlier group writes goes in the next statement.
            self._queue_groups()
        self._groups.append((rows, guard, exists))
        self._group_keys |= keys
        self._group_touch |= touch
        self._flush_if_large()

    def insert(self, h: str, key: bytes, value: bytes) -> bool:
        self._writable(key, value)
        return self._run(self._sql.insert, (h, key, value), f"writing table {h!r}").rowcount == 1

    def replace(self, h: str, key: bytes, value: bytes) -> bytes | None:
        self._writable(key, value)
        row = self._one(self._sql.replace, (h, key, h, key, value), f"writing table {h!r}")
        return None if row is None else row[0]

    def delete(self, h: str, key: bytes) -> bool:
        self._writable(key)
        return self._run(self._sql.delete, (h, key), f"deleting from table {h!r}").rowcount > 0

    def put_many(self, h: str, pairs: list[tuple[bytes, bytes]]) -> None:
        for key, value in pairs:
            self._writable(key, value)
        for key, _ in pairs:
            self._after_groups(h, key)
        for key, value in pairs:
            self._pending[(h, key)] = value
            if len(self._pending) >= _FLUSH_AT:
                self._flush_if_large()

    def drop(self, h: str) -> int:
        if not self.write:
            raise ReadOnlyError("write inside a read-only transaction (use db.begin(write=True))")
        self._writes += 1
        return self._run(self._sql.drop, (h,), f"emptying table {h!r}").rowcount

    def notify(self, channel: str, payload: str) -> None:
        """Send payload on channel to every listener of this database, when (and only if) this commits.
        It needs no answer: it goes, after the writes made before it, with the next statement or the COMMIT."""
        self._usable("notifying")
        engine = self._engine
        self._queue_writes()
        self._queued.append((self._sql.notify, (engine.channel(channel), f"{engine.origin} {payload}")))

    # -- ending ----------------------------------------------------------------------

    def commit(self) -> None:
        if self._done:
            raise TransactionError("transaction already ended")
        self._queue_writes()
        if not self._queued and (not self._begun or self._single):
            self._finish(self._on_commit, rollback=False)  # nothing written, or no transaction: nothing to send
            return
        if self._failed is not None and not self.write:
            self._finish(self._on_commit, rollback=True)  # a reader's failed statement changed nothing
            return
        try:
            self._usable("committing")
            # The waiting writes and COMMIT in one round trip (with BEGIN if nothing was sent yet).
            self._send([*self._queued, ("COMMIT", ())], "committing")
        except Error as exc:
            # A conflict found at commit wrote nothing; a connection lost during commit leaves
            # the outcome unknown (unless nothing had been sent: deferred writes only, sent again).
            failed = exc if isinstance(exc, Conflict) else type(exc)(str(exc), retryable=False)
            self._finish(self._on_abort, rollback=True)
            raise failed from None
        self._finish(self._on_commit, rollback=False)

    def abort(self) -> None:
        if self._done:
            return
        self._finish(self._on_abort, rollback=True)

    def _finish(self, callbacks: list[Callable[[], None]] | None, rollback: bool) -> None:
        self._done = True
        self._pending, self._groups, self._queued = {}, [], []
        if rollback:
            try:
                with self._engine.deadlines.watch(self._conn):
                    self._conn.rollback()
            except psycopg.Error:
                pass  # a broken connection: the server already rolled back; the pool discards it
        self._engine._release(self)
        self._fire(callbacks)



#: Seconds at most that a listening connection stays silent before it asks the server for an answer.
PROBE_EVERY = 5.0


class Listener:
    """A thread holding its own connection in LISTEN; PostgreSQL pushes each notification to it.

    Delivery is by the server (LISTEN/NOTIFY), not by polling tables. A lost
    connection is reopened (every second until it answers); notifications
    sent meanwhile are missed, so a user of it must fall back on re-reading
    (a router drops its cached cookies on each error). A connection
    silent for ``PROBE_EVERY`` seconds (or the URL's timeout, if shorter) is
    asked for an answer, which must come within the timeout: a path that
    drops packets is noticed within twice that. ``ready`` is set
    while the connection listens; on_error, from this thread, hears of the
    connection lost and of every reconnect that fails, each as a plain
    DatabaseError (the database is unreachable).
    """

    def __init__(self, engine: PostgresEngine, channel: str, callback: Callable[[str], None],
                 on_error: Callable[[DatabaseError], None] | None = None) -> None:
        self._engine = engine
        self._channel = engine.channel(channel)
        self._callback = callback
        self._on_error = on_error
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._probe_every = min(PROBE_EVERY, engine.deadlines.seconds)
        self._thread = threading.Thread(target=self._run, name=f"listen {self._channel}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        own = self._engine.origin + " "
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._engine._conninfo, autocommit=True, connect_timeout=5,
                                     application_name=self._engine.application_name) as conn:
                    conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(self._channel)))
                    self.ready.set()
                    heard = time.monotonic()
                    while not self._stop.is_set():
                        # The timeout only lets the thread see a stop request; delivery is pushed.
                        for note in conn.notifies(timeout=1.0):
                            heard = time.monotonic()
                            if not note.payload.startswith(own):
                                self._callback(note.payload.split(" ", 1)[-1])
                        if time.monotonic() - heard >= self._probe_every:
                            self._probe(conn)
                            heard = time.monotonic()
            except psycopg.Error as exc:
                self.ready.clear()
                if self._on_error is not None and not self._stop.is_set():
                    self._on_error(DatabaseError(f"listening on {self._engine.path} failed: {exc}"))
                self._stop.wait(1.0)

    def _probe(self, conn: psycopg.Connection) -> None:
        """Ask the server for an answer within the URL's timeout. A path that drops packets gives an idle
        connection no error (and TCP keepalives are answered by whatever relays the connection): without
        asking, the listener would not know the database is gone until the next request waited for it."""
        with self._engine.deadlines.watch(conn):
            conn.execute("SELECT 1")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
