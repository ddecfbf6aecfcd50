"""A bounded pool for slow credential checks (argon2id), apart from the reactor's own threads.

At most ``size`` checks run at once, in threads of their own, so argon2id can
neither block the reactor nor take the thread pool that database work and
other logins use; at most ``max_waiting`` more wait for a thread. Beyond that
a check is refused at once (PoolBusy) instead of queueing without bound.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from cfxstore.errors import Error


class PoolBusy(Error):
    """Every thread of the pool is busy and its queue is full."""


class VerifyPool:
    def __init__(self, reactor: Any, size: int, max_waiting: int) -> None:
        self._reactor = reactor
        self._limit = size + max_waiting
        self._pending = 0
        self._pool = ThreadPool(minthreads=0, maxthreads=size, name="cfxstore-verify")
        reactor.callWhenRunning(self._pool.start)
        reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)

    @property
    def pending(self) -> int:
        """Checks running or waiting."""
        return self._pending

    @property
    def full(self) -> bool:
        """True while a further check would be refused."""
        return self._pending >= self._limit

    def run(self, fn: Callable[..., Any], *args: Any) -> Deferred:
        """fn(*args) in the pool; raises PoolBusy at once when the pool and its queue are full."""
        if self.full:
            raise PoolBusy(f"{self._pending} credential checks are already running or waiting")
        self._pending += 1
        d = deferToThreadPool(self._reactor, self._pool, fn, *args)
        d.addBoth(self._done)
        return d

    def _done(self, result: Any) -> Any:
        self._pending -= 1
        return result
