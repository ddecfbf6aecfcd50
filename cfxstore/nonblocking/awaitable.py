"""The asyncio form: service calls that run in a ServicePool and answer with awaitables on the running loop.

    pool = ServicePool()
    mgmt = awaitable.wrap(Management(db), pool)
    role = await mgmt.roles.create(name="frontend")      # in a coroutine

Each call returns an asyncio Future of the loop running when it was made:
it holds what the call returned, or the exception it raised (the same
cfxstore exception the synchronous call raises), or PoolFull / PoolClosed
when the pool refuses it. Cancelling the Future of a call still waiting for a
thread keeps it from running; one already running goes on to its end.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

from cfxstore.nonblocking.pool import ServicePool
from cfxstore.nonblocking.proxy import NonBlocking

__all__ = ["wrap", "run"]

T = TypeVar("T")


def wrap(service: Any, pool: ServicePool) -> Any:
    """service, with each public method running in pool and returning an awaitable (call it in a coroutine)."""
    return NonBlocking(service, _starter(pool))


def run(pool: ServicePool, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """fn(*args, **kwargs) in pool, as a Future of the running loop."""
    return _starter(pool)(lambda: fn(*args, **kwargs))


def _starter(pool: ServicePool) -> Callable[[Callable[[], Any]], asyncio.Future]:
    def start(call: Callable[[], Any]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        try:
            future = pool.submit(call)
        except Exception as exc:  # PoolFull, PoolClosed: the awaitable says so, as for any failed call
            refused = loop.create_future()
            refused.set_exception(exc)
            return refused
        return asyncio.wrap_future(future, loop=loop)

    return start
