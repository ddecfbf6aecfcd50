"""A bounded pool of threads in which service calls wait for their database instead of an event loop.

At most ``threads`` calls run at once and at most ``max_waiting`` more wait
for a thread; a further call is refused at once (PoolFull) rather than queued,
so a database that stalls holds a bounded number of calls and memory. The
threads are daemons: a call stalled on its database never holds up the
process's exit (its transaction is then neither committed nor half-written).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, InvalidStateError
from typing import Any, Callable, TypeVar

from cfxstore.errors import Error, InvalidArgument

__all__ = ["ServicePool", "PoolFull", "PoolClosed"]

T = TypeVar("T")


class PoolFull(Error):
    """Every thread of the pool is busy and as many calls as it lets wait already wait; retry later."""

    uri = "cfxstore.error.busy"


class PoolClosed(Error):
    """The pool was closed: it runs no further calls."""

    uri = "cfxstore.error.busy"


class ServicePool:
    """Runs calls in at most ``threads`` threads (started as needed), with at most ``max_waiting`` waiting."""

    def __init__(self, threads: int = 4, max_waiting: int = 1000, name: str = "cfxstore-services") -> None:
        for arg, value, least in (("threads", threads, 1), ("max_waiting", max_waiting, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidArgument(f"ServicePool: {arg} must be an int >= {least}, got {value!r}")
        self.threads, self.max_waiting, self.name = threads, max_waiting, name
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0  # calls running or waiting
        self._running = 0
        self._workers: list[threading.Thread] = []
        self._closed = False

    @property
    def pending(self) -> int:
        """Calls running or waiting."""
        return self._pending

    @property
    def running(self) -> int:
        """Calls a thread has taken and not yet finished."""
        return self._running

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """fn(*args, **kwargs) in a thread of the pool; its Future holds the result or the exception raised.

        Raises PoolFull when ``threads + max_waiting`` calls are already running or waiting, PoolClosed
        after close().
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise PoolClosed(f"the {self.name} pool is closed")
            if self._pending >= self.threads + self.max_waiting:
                raise PoolFull(f"the {self.name} pool is full: {self.threads} calls running and "
                               f"{self.max_waiting} waiting for their database; retry later")
            self._pending += 1
            # Every started thread is busy or about to take a call: start one more while there are fewer
            # threads than calls.
            if len(self._workers) < min(self.threads, self._pending):
                worker = threading.Thread(target=self._work, name=f"{self.name}-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
                worker.start()
            self._queue.put((future, lambda: fn(*args, **kwargs)))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call = item
            del item
            if not future.set_running_or_notify_cancel():  # cancelled while it waited
                with self._lock:
                    self._pending -= 1
                continue
            with self._lock:
                self._running += 1
            try:
                result, exc = call(), None
            except BaseException as raised:
                result, exc = None, raised
            # Room is made before the caller hears of the outcome: a caller that submits again at once
            # is never refused for the call that just ended.
            with self._lock:
                self._running -= 1
                self._pending -= 1
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
            del future, call, result, exc  # the thread keeps nothing alive while it waits for the next call

    def close(self, wait: bool = False) -> None:
        """Refuse further calls, fail those still waiting with PoolClosed, and let each thread end after its call.

        ``wait``: also wait for the calls running now to end.
        """
        workers: list[threading.Thread] = []
        waiting: list[Future] = []
        with self._lock:
            if not self._closed:
                self._closed = True
                workers = list(self._workers)
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        waiting.append(item[0])
                        self._pending -= 1
                for _ in workers:
                    self._queue.put(None)
        for future in waiting:
            try:
                future.set_exception(PoolClosed(f"the {self.name} pool was closed before this call ran"))
            except InvalidStateError:  # its caller cancelled it meanwhile
                pass
        if wait:
            for worker in workers:
                if worker is not threading.current_thread():
                    worker.join()

    def __enter__(self) -> ServicePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(wait=True)

    def __repr__(self) -> str:
        return (f"<ServicePool {self.name}: {self._running} running, {self._pending - self._running} waiting, "
                f"at most {self.threads} + {self.max_waiting}>")
