"""Close sessions and commit buffered writes when the worker's reactor shuts down.

Crossbar never calls a realm store's stop() and has no hook for cookie
stores, so cfxstore registers one "before shutdown" trigger per process. From
then on the worker stops accepting connections (``stopping()``; cookieprotocol.py
refuses new handshakes) and runs the registered steps in two phases, each step
guarded so one failure cannot keep the others from running: first "close"
steps (realm stores mark their live sessions as left), then "flush" steps
(write-behinds commit what was staged, including what the close steps staged).
A step may return a Deferred: the next waits for it, and the reactor stops
only once the last has fired, so the database I/O runs in threads while the
reactor keeps serving, and the worker goes only after everything acknowledged
is committed.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger

log = Logger()
_steps: dict[str, list[Callable[[], Any]]] = {"close": [], "flush": []}
_installed = False
_stopping = False


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


def stopping() -> bool:
    """True once the worker is shutting down: new connections are refused."""
    return _stopping


@inlineCallbacks
def run_all() -> Any:
    global _stopping
    _stopping = True
    for phase in ("close", "flush"):
        for step in list(_steps[phase]):
            try:
                yield step()
            except Exception:
                log.failure("cfxstore: a shutdown step failed ({phase})", phase=phase)
