"""What every engine transaction shares: commit/abort callbacks and the context manager's entry."""

from __future__ import annotations

from typing import Any, Callable


class TransactionHooks:
    """on_commit/on_abort callbacks; an engine's commit/abort call ``_fire`` once the transaction ended."""

    _on_commit: list[Callable[[], None]] | None = None
    _on_abort: list[Callable[[], None]] | None = None

    def __enter__(self) -> Any:
        return self

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
