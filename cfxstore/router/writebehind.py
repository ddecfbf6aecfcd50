"""A bounded write-behind buffer committed in batches by a thread.

Items are appended on the reactor thread. The first append schedules a flush
``delay`` seconds later; the flush hands the whole buffer to a thread, which
commits it with ``write(items)`` (one call per batch). When the buffer reaches
``max_items`` the reactor thread commits it itself (backpressure: the router
slows down instead of the buffer growing without bound). ``flush()`` commits
everything on the calling thread, e.g. before a read or at shutdown.

Each batch is written exactly once, under ``lock``, by whichever thread gets
there first; so a synchronous flush also covers a batch a thread has been
handed but not yet written.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar

from txaio import make_logger

T = TypeVar("T")
log = make_logger()


class _Batch(Generic[T]):
    __slots__ = ("items", "written")

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self.written = False


class WriteBehind(Generic[T]):
    """Buffer items and commit them in batches off the reactor thread."""

    def __init__(self, write: Callable[[list[T]], Any], *, delay: float, max_items: int,
                 reactor: Any, defer_to_thread: Callable[..., Any]) -> None:
        self._write = write
        self._delay = delay
        self._max_items = max_items
        self._reactor = reactor
        self._defer_to_thread = defer_to_thread
        self.lock = threading.Lock()
        self._pending: list[T] = []
        self._inflight: _Batch[T] | None = None
        self._call: Any = None

    def __len__(self) -> int:
        return len(self._pending) + (len(self._inflight.items) if self._inflight else 0)

    def append(self, item: T) -> None:
        pending = self._pending
        pending.append(item)
        if len(pending) >= self._max_items:
            self.flush()
        elif self._call is None:
            self._call = self._reactor.callLater(self._delay, self._flush_in_thread)

    def _flush_in_thread(self) -> None:
        self._call = None
        if not self._pending:
            return
        batch = _Batch(self._pending)
        self._pending = []
        self._inflight = batch
        d = self._defer_to_thread(self._write_batch, batch)

        def done(result: Any) -> Any:
            if self._inflight is batch:
                self._inflight = None
            if self._pending and self._call is None:
                self._call = self._reactor.callLater(self._delay, self._flush_in_thread)
            return result

        d.addBoth(done)
        d.addErrback(lambda f: log.failure("cfxstore: writing a batch failed", failure=f))

    def _write_batch(self, batch: _Batch[T]) -> None:
        with self.lock:
            self._write_locked(batch)

    def _write_locked(self, batch: _Batch[T]) -> None:
        if not batch.written:
            batch.written = True  # set first: a failing batch is reported once, not retried forever
            if batch.items:
                self._write(batch.items)

    def flush(self) -> None:
        """Commit everything buffered, on the calling thread."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        with self.lock:
            if self._inflight is not None:
                self._write_locked(self._inflight)
                self._inflight = None
            batch = _Batch(self._pending)
            self._pending = []
            self._write_locked(batch)
