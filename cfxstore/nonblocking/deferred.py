"""The Twisted form: service calls that run in a ServicePool and answer with Deferreds on the reactor.

    pool = ServicePool()
    mgmt = deferred.wrap(Management(db), pool)
    role = yield mgmt.roles.create(name="frontend")      # in an inlineCallbacks method

Each Deferred fires on the reactor's thread with what the call returned, or
fails with the exception it raised (the same cfxstore exception the
synchronous call raises), or with PoolFull / PoolClosed when the pool
refuses it. Cancelling the Deferred of a call still waiting for a thread
keeps it from running; one already running goes on to its end.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from twisted.internet.defer import Deferred, fail

from cfxstore.nonblocking.pool import ServicePool
from cfxstore.nonblocking.proxy import NonBlocking

__all__ = ["wrap", "run"]

T = TypeVar("T")


def wrap(service: Any, pool: ServicePool, *, reactor: Any = None) -> Any:
    """service, with each public method running in pool and returning a Deferred fired on reactor
    (default: the global one)."""
    return NonBlocking(service, _starter(pool, reactor))


def run(pool: ServicePool, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Deferred:
    """fn(*args, **kwargs) in pool, as a Deferred fired on the global reactor."""
    return _starter(pool, None)(lambda: fn(*args, **kwargs))


def _starter(pool: ServicePool, reactor: Any) -> Callable[[Callable[[], Any]], Deferred]:
    if reactor is None:
        # Imported on first use: importing it installs the default reactor, which an application may
        # want to choose itself before.
        from twisted.internet import reactor as default
        reactor = default

    def start(call: Callable[[], Any]) -> Deferred:
        try:
            future = pool.submit(call)
        except Exception as exc:  # PoolFull, PoolClosed: the Deferred says so, as for any failed call
            return fail(exc)
        def cancel(_: Deferred) -> None:
            future.cancel()

        d: Deferred = Deferred(cancel)
        future.add_done_callback(lambda f: reactor.callFromThread(_settle, d, f))
        return d

    return start


def _settle(d: Deferred, future: Future) -> None:
    if d.called:  # cancelled: the canceller already failed it
        return
    exc = future.exception()
    if exc is not None:
        d.errback(exc)
    else:
        d.callback(future.result())
