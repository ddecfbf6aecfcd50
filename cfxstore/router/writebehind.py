"""One write-behind per database and process, shared by its cookie and realm stores.

Like a tinydb middleware it wraps the database: stores stage writes, which
are acknowledged at once and committed in batches, one transaction per batch,
by a thread. ``append(apply, arg)`` writes are committed in staging order;
``stage(apply, arg, key)`` writes are replaced by a later one with the same key
(and ``pending(key)`` serves them to readers meanwhile). ``apply(txn, args)``
does the writes of a run of consecutive args with the same apply (a run of
deliveries is one ``put_many``); ``each(put)`` makes one from ``put(txn, arg)``.
The first staged write schedules a flush ``delay`` seconds later; when
``max_items`` of one kind are pending they are handed to a thread at once,
without waiting for the delay (never committed on the staging thread: the
reactor does not wait for the database), or as soon as the batch in flight
is done. ``flush()`` commits everything on the calling thread, e.g. before a
read or a deletion.

Failure isolation: stores refuse what can never be written where it is made
(``Map.check_put``), so a batch normally commits whole. If one still fails,
its writes are retried one per transaction: a write that fails on its own
data is set aside and logged (``refused``) and never blocks the others; one
that fails because the database cannot be written (full, read-only, closed)
is kept and retried with the next batch. A batch that conflicts with another
writer (another node on the same PostgreSQL database) is not failing: it runs
again, whole, after a pause (``CONFLICT_RETRIES`` times) before anything is
isolated. While a PostgreSQL database is unreachable (availability.py)
nothing is attempted: staged writes wait in memory, past ``max_items``, and
are committed once the database answers again. ``admit(what)`` bounds them:
while the database is unreachable and ``outage_max`` writes wait, it says no
(counted in ``outage_dropped`` by kind, logged once per ``OUTAGE_LOG_EVERY``),
and the store leaves that write out (the cookie stores refuse the login,
cookiebackend.py; the realm stores drop the history record).

Order: at most one batch is in flight. The next one is handed to a thread
only when the one before has committed (or was put back), so batches commit
in the order their writes were staged, however long one takes; writes
staged meanwhile wait and go together in the next batch. Each batch is
written exactly once, under ``lock``, by whichever thread gets there first;
so a synchronous flush also covers a batch a thread has been handed but not
yet written. Staging, ``pending`` and the completion of a batch run on one
thread (the reactor's). ``drain()`` is the clean stop: it commits everything
staged, batch after batch in threads, and fires once nothing is left.
"""

from __future__ import annotations

import collections
import threading
from time import monotonic
from typing import Any, Callable, Hashable

from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.logger import Logger

from cfxstore.router.availability import availability
from orm.errors import DatabaseError, TransactionError

log = Logger()

Apply = Callable[[Any, list[Any]], Any]
# Failures of the database rather than of one write: worth retrying later.
_RETRYABLE = (DatabaseError, TransactionError, OSError, MemoryError)
REFUSED_KEPT = 100
#: Seconds a batch waits before it commits until a store says otherwise (a cookie store's default flush_ms).
DEFAULT_DELAY = 0.02
#: Times a batch that conflicts with another writer is run again before its writes are tried one by one.
CONFLICT_RETRIES = 10
#: Most writes kept while the database is unreachable (admit); the cookie stores use the same bound.
OUTAGE_STAGED_MAX = 10_000
#: Seconds between two log lines about writes left out for that bound.
OUTAGE_LOG_EVERY = 10.0


def each(put: Callable[[Any, Any], Any]) -> Apply:
    """An apply that calls ``put(txn, arg)`` for every arg of a run (named after put, for logs)."""
    def apply(txn: Any, args: list[Any]) -> None:
        for arg in args:
            put(txn, arg)
    apply.__name__ = getattr(put, "__name__", "write")
    return apply


def _runs(items: Any) -> list[tuple[Apply, list[Any]]]:
    """(apply, args) per run of consecutive items with the same apply, in order."""
    runs: list[tuple[Apply, list[Any]]] = []
    last = None
    for apply, arg in items:
        if apply is last:
            runs[-1][1].append(arg)
        else:
            runs.append((apply, [arg]))
            last = apply
    return runs


class _Batch:
    """Staged writes: keyed ones (a later write replaces an earlier one) and the rest, in order."""

    __slots__ = ("keyed", "items", "written", "retry", "since")

    def __init__(self) -> None:
        self.since: float | None = None  # monotonic time of its oldest write (lag())
        self.keyed: dict[Hashable, tuple[Apply, Any]] = {}
        self.items: list[tuple[Apply, Any]] = []
        self.written = False
        self.retry: list[tuple[Hashable | None, Apply, Any]] = []

    def __len__(self) -> int:
        return len(self.keyed) + len(self.items)

    def entries(self) -> list[tuple[Hashable | None, tuple[Apply, Any]]]:
        return [*self.keyed.items(), *((None, item) for item in self.items)]


class WriteBehind:
    """Stage writes for one database; commit them in batches off the staging thread."""

    def __init__(self, db: Any, *, delay: float | None, max_items: int, reactor: Any = None,
                 defer_to_thread: Callable[..., Any] | None = None) -> None:
        self.db = db
        # None: no store has said how long to wait yet; the first one that does decides.
        self.delay = DEFAULT_DELAY if delay is None else delay
        self._delay_chosen = delay is not None
        self.max_items = max_items
        self._reactor = reactor
        self._defer_to_thread = defer_to_thread
        self.lock = threading.Lock()
        self._pending = _Batch()
        self._inflight: _Batch | None = None
        self._waiters: list[Deferred] = []  # fired, with how many writes it put back, when the in-flight batch is done
        self._draining = False
        self._urgent = False  # a staged write must not wait for the delay (commit_soon)
        self._call: Any = None
        # (what, error) of the latest writes set aside: never written, logged once.
        self.refused: collections.deque[tuple[str, str]] = collections.deque(maxlen=REFUSED_KEPT)
        self.availability = availability(db)
        self.outage_max = OUTAGE_STAGED_MAX
        #: Writes left out by admit() while the database was unreachable, by what they were.
        self.outage_dropped: collections.Counter[str] = collections.Counter()
        self._outage_logged = -OUTAGE_LOG_EVERY

    def tune(self, *, delay: float | None, max_items: int) -> None:
        """Share the writer with another store: the shorter delay and smaller bound win (a delay of None,
        or the default the writer began with, has no say against a store's own)."""
        if delay is not None:
            chosen = min(self.delay, delay) if self._delay_chosen else delay
            if chosen < self.delay and self._call is not None and self._call.active():
                self._call.cancel()  # a flush planned with the longer delay comes sooner
                self._call = self._reactor.callLater(chosen, self._flush_in_thread)
            self.delay, self._delay_chosen = chosen, True
        self.max_items = min(self.max_items, max_items)

    def __len__(self) -> int:
        return len(self._pending) + (len(self._inflight) if self._inflight else 0)

    def lag(self) -> float:
        """Seconds the oldest write not yet committed is past its planned flush (0 if none is)."""
        oldest = min((b.since for b in (self._pending, self._inflight) if b is not None and len(b) and b.since),
                     default=None)
        return 0.0 if oldest is None else max(0.0, monotonic() - oldest - self.delay)

    # -- staging (reactor thread) -------------------------------------------------

    def append(self, apply: Apply, arg: Any) -> None:
        """Acknowledge the write of ``arg`` by ``apply`` (committed in staging order)."""
        items = self._pending.items
        self._pending.since = self._pending.since or monotonic()
        items.append((apply, arg))
        if len(items) >= self.max_items and self.availability.up:
            self._full()
        elif self._call is None:
            self._schedule()

    def stage(self, apply: Apply, arg: Any, key: Hashable) -> None:
        """Acknowledge the write of ``arg`` by ``apply``; a later write with the same key replaces it."""
        keyed = self._pending.keyed
        self._pending.since = self._pending.since or monotonic()
        keyed[key] = (apply, arg)
        if len(keyed) >= self.max_items and self.availability.up:
            self._full()
        elif self._call is None:
            self._schedule()

    def _full(self) -> None:
        """Backpressure: hand the staged writes to a thread now (or once the batch in flight is done)."""
        if self._reactor is None:
            self.flush()  # tools without a reactor commit on their own thread
            return
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if not self._draining:
            self._flush_in_thread()

    def commit_soon(self) -> None:
        """Commit what is staged now rather than after the delay, still off the reactor thread and after
        the batch in flight (a logout: its deletion should not wait, nor be lost by a crash meanwhile)."""
        if not self.availability.up:
            return  # committed once the database answers, like everything staged
        self._urgent = True
        self._full()

    def admit(self, what: str) -> bool:
        """Whether one more write may be staged: False while the database is unreachable and
        ``outage_max`` writes wait (counted, and logged once per OUTAGE_LOG_EVERY)."""
        if self.availability.up or len(self) < self.outage_max:
            return True
        self.outage_dropped[what] += 1
        now = monotonic()
        if now - self._outage_logged >= OUTAGE_LOG_EVERY:
            self._outage_logged = now
            log.warn("cfxstore: database unreachable with {n} writes staged; leaving out new ones until it "
                     "answers ({dropped} so far)", n=len(self), dropped=dict(self.outage_dropped))
        return False

    def _schedule(self) -> None:
        if self._reactor is None:
            self.flush()
        else:
            self._call = self._reactor.callLater(self.delay, self._flush_in_thread)

    def pending(self, key: Hashable) -> Any:
        """The arg of the staged, not yet committed write with this key, else None."""
        item = self.staged(key)
        return None if item is None else item[1]

    def staged(self, key: Hashable) -> tuple[Apply, Any] | None:
        """(apply, arg) of the staged, not yet committed write with this key, else None."""
        item = self._pending.keyed.get(key)
        if item is None and self._inflight is not None:
            item = self._inflight.keyed.get(key)
        return item

    def staged_keyed(self) -> list[tuple[Hashable, Any]]:
        """(key, arg) of every staged keyed write not yet committed."""
        batches = [b for b in (self._inflight, self._pending) if b is not None]
        return [(key, arg) for b in batches for key, (_, arg) in b.keyed.items()]

    def restage(self, key: Hashable, apply: Apply, arg: Any) -> bool:
        """Replace the staged write with this key if no thread has taken it yet (True); else False."""
        if key not in self._pending.keyed:
            return False
        self._pending.keyed[key] = (apply, arg)
        return True

    def discard(self, key: Hashable) -> None:
        """Drop the staged write with this key, unless a thread is writing it already."""
        self._pending.keyed.pop(key, None)

    def _flush_in_thread(self) -> None:
        self._call = None
        if self._inflight is not None or not len(self._pending):
            return  # one batch in flight at a time: when it is done, it plans the next
        self._hand_over()

    def _hand_over(self) -> None:
        """Give the staged writes to a thread as the one batch in flight."""
        batch, self._pending = self._pending, _Batch()
        self._inflight = batch
        self._urgent = False
        assert self._defer_to_thread is not None, "flushes are scheduled only for a writer given a reactor"
        d = self._defer_to_thread(self._write, batch)

        def done(result: Any) -> Any:
            if self._inflight is batch:
                self._inflight = None
            kept = len(batch.retry)
            self._requeue(batch)
            if len(self._pending) and self._call is None and not self._draining:
                # Writes staged while this batch was written are due already, or soon.
                due = self.delay - (monotonic() - (self._pending.since or monotonic()))
                if self._urgent or len(self._pending.items) >= self.max_items \
                        or len(self._pending.keyed) >= self.max_items:
                    due = 0.0  # asked for at once, or backpressure: full already
                self._call = self._reactor.callLater(max(0.0, due), self._flush_in_thread)
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(kept)
            return result

        d.addBoth(done)
        d.addErrback(lambda f: log.failure("cfxstore: writing a batch failed", failure=f))

    def _idle(self) -> Deferred:
        """Fires with how many writes the in-flight batch put back, once it is done."""
        waiter: Deferred = Deferred()
        self._waiters.append(waiter)
        return waiter

    def drain(self) -> Deferred:
        """Clean stop: commit everything staged, one batch after another off the reactor thread, and
        fire once nothing is left (writes staged meanwhile included). Stops early, logging what is
        left, when a batch cannot be committed (the database is down or refuses writes)."""
        if self._reactor is None or self._defer_to_thread is None:
            self.flush()
            return succeed(None)
        return self._drain()

    @inlineCallbacks
    def _drain(self) -> Any:
        self._draining = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        try:
            while True:
                if self._inflight is not None:
                    yield self._idle()
                    continue
                if not len(self._pending):
                    return
                self._hand_over()
                kept = yield self._idle()
                if kept:
                    log.error("cfxstore: stopping with {n} staged writes not committed: the database did not "
                              "take them", n=len(self))
                    return
        finally:
            self._draining = False

    def _requeue(self, batch: _Batch) -> None:
        """Put back what failed for want of a writable database (newer staged writes win)."""
        retry, batch.retry = batch.retry, []
        pending = self._pending
        if retry:
            pending.since = min(pending.since or monotonic(), batch.since or monotonic())
        pending.items[:0] = [(apply, arg) for key, apply, arg in retry if key is None]
        for key, apply, arg in retry:
            if key is not None:
                pending.keyed.setdefault(key, (apply, arg))

    # -- writing (any thread) -----------------------------------------------------

    def _write(self, batch: _Batch) -> None:
        with self.lock:
            self._write_locked(batch)

    def _write_locked(self, batch: _Batch) -> None:
        if batch.written:
            return
        batch.written = True  # set first: a batch is attempted once, whatever happens
        if not len(batch):
            return
        if not self.availability.up:
            self._keep(batch, batch.entries())
            return
        runs = _runs(batch.keyed.values()) + _runs(batch.items)

        def write_all(txn: Any) -> None:
            for apply, args in runs:
                apply(txn, args)

        try:
            self._commit(write_all)
            return
        except Exception as exc:
            if self.availability.lost(exc):
                self._keep(batch, batch.entries())  # the database is gone, not one write: all wait for it
                return
        # Isolate the culprit, one write per transaction.
        entries = batch.entries()
        error = None
        for i, (key, (apply, arg)) in enumerate(entries):
            try:
                self._commit(lambda txn: apply(txn, [arg]))
            except _RETRYABLE as exc:
                if self.availability.lost(exc):
                    self._keep(batch, entries[i:])
                    return
                batch.retry.append((key, apply, arg))
                error = exc
            except Exception as exc:
                self._set_aside(apply, exc)
        if error is not None:
            log.error("cfxstore: database not writable, keeping {n} writes for the next batch: {error}",
                      n=len(batch.retry), error=f"{type(error).__name__}: {error}")

    def _commit(self, fn: Callable[[Any], Any]) -> None:
        """fn(txn) in a write transaction, committed; run again when it conflicts with another writer
        (another node on the same PostgreSQL database): a conflict is not the database failing."""
        self.db.transact(fn, CONFLICT_RETRIES, conflicts_only=True)

    @staticmethod
    def _keep(batch: _Batch, entries: list[tuple[Hashable | None, tuple[Apply, Any]]]) -> None:
        batch.retry.extend((key, apply, arg) for key, (apply, arg) in entries)

    def _set_aside(self, apply: Apply, exc: Exception) -> None:
        what = getattr(apply, "__name__", "write").lstrip("_")
        error = f"{type(exc).__name__}: {exc}"[:500]
        self.refused.append((what, error))
        log.error("cfxstore: set aside a write that can never be stored ({what}): {error}", what=what, error=error)

    def flush(self) -> None:
        """Commit everything staged, on the calling thread."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        with self.lock:
            inflight, self._inflight = self._inflight, None
            batch, self._pending = self._pending, _Batch()
            if inflight is not None:
                self._write_locked(inflight)
            self._write_locked(batch)
        self._requeue(batch)  # the newer first: requeued writes go in front, and newer keyed ones win
        if inflight is not None:
            self._requeue(inflight)

    def run(self, fn: Callable[[], Any]) -> Any:
        """Commit everything staged, then ``fn()`` under the write lock (write-through changes)."""
        self.flush()
        with self.lock:
            return fn()
