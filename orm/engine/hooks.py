"""What the engines share: commit/abort callbacks, the context manager, the silence of the
engines that deliver no notifications, and the guard of an event loop's thread."""

from __future__ import annotations

import sys
from typing import Any, Callable

from ..errors import ReactorBlocked, ReadOnlyError, TransactionError


def check_new_writer(engine: Any) -> None:
    """Refuse a write transaction on a read-only engine, or a second one in this thread."""
    if engine.readonly:
        raise ReadOnlyError(f"database {engine.path} is open read-only")
    if engine.thread_write_txn() is not None:
        raise TransactionError("this thread already has an open write transaction; a second would deadlock")


class NoDelivery:
    """The subscription of an engine without notifications: nothing is ever delivered to it."""

    def stop(self) -> None:
        pass


class TransactionHooks:
    """on_commit/on_abort callbacks; an engine's commit/abort call ``_fire`` once the transaction ended."""

    _on_commit: list[Callable[[], None]] | None = None
    _on_abort: list[Callable[[], None]] | None = None

    _done = False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Commit if the block succeeded, abort if it raised (nothing if the transaction already ended)."""
        if self._done:
            return
        if exc_type is not None:
            self.abort()  # type: ignore[attr-defined]
        else:
            self.commit()  # type: ignore[attr-defined]

    def on_commit(self, fn: Callable[[], None]) -> None:
        if self._on_commit is None:
            self._on_commit = []
        self._on_commit.append(fn)

    def on_abort(self, fn: Callable[[], None]) -> None:
        if self._on_abort is None:
            self._on_abort = []
        self._on_abort.append(fn)

    @staticmethod
    def _fire(callbacks: list[Callable[[], None]] | None) -> None:
        if callbacks:
            for fn in callbacks:
                fn()


class ReactorGuard:
    """Names (and for the sites it is told to, refuses) database calls made on one thread.

    An event loop's thread must not wait for a database: every connection of
    the process would wait with it. A process that runs one installs the
    guard with its loop's thread; ``Database.begin`` then calls ``check``
    there. Each calling site, named by the innermost frame of ``package``
    (``module:qualname``) and the outermost one (where the path entered the
    package), is reported once, and refused with ReactorBlocked, before any
    database work, when its innermost frame starts with one of the
    ``forbidden`` names (``"*"``: every site) and none of its frames starts
    with one of the ``allowed`` names. Every engine counts: a round trip
    waits for the network, a local write for another process's write lock,
    a local read for the disk.
    """

    def __init__(self) -> None:
        self.thread: int | None = None
        self._package = ""
        self._forbidden: tuple[str, ...] = ()
        self._every = False
        self._allowed: tuple[str, ...] = ()
        self._report: Callable[[str], None] = lambda site: None
        self._seen: set[str] = set()

    def install(self, thread: int, package: str, forbidden: tuple[str, ...], report: Callable[[str], None],
                allowed: tuple[str, ...] = ()) -> None:
        self.thread, self._package, self._report = thread, package + ".", report
        self._every = "*" in forbidden
        self._forbidden = tuple(site for site in forbidden if site != "*")
        self._allowed = allowed
        self._seen = set()

    def frames(self) -> list[str]:
        """The calling frames of the package, innermost first, as module:qualname."""
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module.startswith(self._package):
                frames.append(f"{module}:{frame.f_code.co_qualname}")
            frame = frame.f_back  # type: ignore[assignment]
        return frames or ["(outside " + self._package.rstrip(".") + ")"]

    def forbids(self, frames: list[str]) -> bool:
        """Whether a call from these frames (innermost first) is refused."""
        if self._allowed and any(frame.startswith(self._allowed) for frame in frames):
            return False
        return self._every or frames[0].startswith(self._forbidden)

    def check(self, path: str) -> None:
        """Called on the guarded thread before a database call on the database at path."""
        frames = self.frames()
        where, entry = frames[0], frames[-1]
        named = where if entry == where else f"{where} (entered at {entry})"
        if named not in self._seen:
            self._seen.add(named)
            self._report(named)
        if self.forbids(frames):
            raise ReactorBlocked(f"database {path} called on the event loop's thread from {named}")


#: The process's one guard (installed by a process that runs an event loop, if it asks for it).
reactor_guard = ReactorGuard()
