"""Waiting, off the reactor thread, for the writes a database's write-behind has staged so far to commit.

A history read must see every write the router has acknowledged, and a
revocation must not be undone by a login staged before it: both wait for
the staged writes first. The write-behind is drained in threads
(``WriteBehind.drain``) rather than flushed on the reactor; a marker staged
after the awaited writes fires when its batch commits (batches commit in
staging order), so a waiter never waits for writes staged after it, however
busy the router is. When the drain stops without committing everything (the
database is down or refuses writes) the waiters go on and meet that
themselves.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from cfxstore.registry import Slot, registry
from cfxstore.router.writebehind import WriteBehind

log = Logger()


class Committed:
    """The waits for one write-behind (one per database and process)."""

    def __init__(self, writer: WriteBehind, reactor: Any) -> None:
        self._writer = writer
        self._reactor = reactor
        self._draining: Deferred | None = None
        self._waiting: list[Deferred] = []

    def wait(self) -> Deferred:
        """Fires once the writes staged before now are committed (or the drain stopped short of them)."""
        writer = self._writer
        if not len(writer):
            return succeed(None)
        done: Deferred = Deferred()

        def fire() -> None:
            if not done.called:
                done.callback(None)

        def marker(txn: Any, args: list[Any]) -> None:
            txn.on_commit(lambda: self._reactor.callFromThread(fire))

        marker.__name__ = "commit marker"
        writer.append(marker, None)
        self._waiting.append(done)
        if self._draining is None:
            self._draining = writer.drain()
            self._draining.addBoth(self._drained)
        return done

    def _drained(self, result: Any) -> None:
        self._draining = None
        waiting, self._waiting = self._waiting, []
        for done in waiting:
            if not done.called:
                done.callback(None)
        if isinstance(result, Failure):
            log.failure("cfxstore: committing the staged writes off the reactor failed", failure=result)


COMMITTED: Slot[Committed] = Slot("committed waits")


def committed(writer: WriteBehind, reactor: Any) -> Deferred:
    """A Deferred that fires once the writes ``writer`` has staged so far are committed (see the module)."""
    return registry.get(COMMITTED, writer, lambda: Committed(writer, reactor)).wait()
