"""What the engines share: commit/abort callbacks, the context manager, and the silence of the
engines that deliver no notifications."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ReadOnlyError, TransactionError


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
