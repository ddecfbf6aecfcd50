"""Close sessions and flush buffered writes when the worker's reactor shuts down.

Crossbar never calls a realm store's stop() and has no hook for cookie
stores, so cfxstore registers one "before shutdown" trigger per process. It
runs the registered steps in two phases, each step guarded so one failure
cannot keep the others from running: first "close" steps (realm stores mark
their live sessions as left), then "flush" steps (write-behinds commit what
was staged, including what the close steps staged).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.logger import Logger

log = Logger()
_steps: dict[str, list[Callable[[], Any]]] = {"close": [], "flush": []}
_installed = False


def on_shutdown(step: Callable[[], Any], reactor: Any = None, *, phase: str = "flush") -> None:
    """Run ``step()`` before the reactor stops, in ``phase`` ("close" runs before "flush")."""
    global _installed
    _steps[phase].append(step)
    if not _installed:
        if reactor is None:
            # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
            from twisted.internet import reactor
        reactor.addSystemEventTrigger("before", "shutdown", run_all)
        _installed = True


def run_all() -> None:
    for phase in ("close", "flush"):
        for step in list(_steps[phase]):
            try:
                step()
            except Exception:
                log.failure("cfxstore: a shutdown step failed ({phase})", phase=phase)
