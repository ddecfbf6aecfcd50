"""Flush buffered writes when the worker's reactor shuts down.

Crossbar never calls a realm store's stop() and has no hook for cookie
stores, so cfxstore registers one "before shutdown" trigger per process that
runs every registered flush (in registration order, each guarded, so one
failure cannot keep the others from running).
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

_flushes: list[Callable[[], Any]] = []
_installed = False


def on_shutdown(flush: Callable[[], Any], reactor: Any = None) -> None:
    """Run ``flush()`` before the reactor stops."""
    global _installed
    _flushes.append(flush)
    if not _installed:
        if reactor is None:
            from twisted.internet import reactor
        reactor.addSystemEventTrigger("before", "shutdown", run_all)
        _installed = True


def run_all() -> None:
    for flush in list(_flushes):
        try:
            flush()
        except Exception:
            traceback.print_exc()
