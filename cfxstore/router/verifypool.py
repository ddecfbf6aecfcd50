"""A bounded pool for slow work off the reactor (argon2id checks, cookie reads), apart from its own threads.

At most ``size`` checks run at once, in threads of their own, so argon2id can
neither block the reactor nor take the thread pool that database work and
other logins use; at most ``max_waiting`` more wait for a thread. Beyond that
a check is refused at once (PoolBusy) instead of queueing without bound.

Each owner (a client address) may have at most ``size - 1`` checks running or
waiting (at least one), so one client can never take every thread: another
client's check starts at once.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from cfxstore.errors import Error


class PoolBusy(Error):
    """Every thread of the pool is busy and its queue is full."""


class VerifyPool:
    def __init__(self, reactor: Any, size: int, max_waiting: int, name: str = "cfxstore-verify") -> None:
        self._reactor = reactor
        self._limit = size + max_waiting
        self._per_owner = max(1, size - 1)
        self._pending = 0
        self._owners: dict[Hashable, int] = {}
        self.on_done: Callable[[], None] = lambda: None  # told whenever a check ends (a share frees up)
        self._pool = ThreadPool(minthreads=0, maxthreads=size, name=name)
        reactor.callWhenRunning(self._pool.start)
        reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)

    @property
    def pending(self) -> int:
        """Checks running or waiting."""
        return self._pending

    def full(self, owner: Hashable = None) -> bool:
        """True while a further check (of owner) would be refused."""
        return self._pending >= self._limit or (owner is not None and self._owners.get(owner, 0) >= self._per_owner)

    def run(self, fn: Callable[..., Any], *args: Any, owner: Hashable = None) -> Deferred:
        """fn(*args) in the pool; raises PoolBusy at once when the pool and its queue (or owner's share) are full."""
        if self.full(owner):
            raise PoolBusy(f"{self._pending} credential checks are already running or waiting")
        self._pending += 1
        if owner is not None:
            self._owners[owner] = self._owners.get(owner, 0) + 1
        d = deferToThreadPool(self._reactor, self._pool, fn, *args)
        d.addBoth(self._done, owner)
        return d

    def _done(self, result: Any, owner: Hashable) -> Any:
        self._pending -= 1
        if owner is not None:
            left = self._owners.pop(owner) - 1
            if left:
                self._owners[owner] = left
        self.on_done()
        return result
