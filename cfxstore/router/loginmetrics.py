"""Counting every login of a router worker by method and outcome (metrics.py).

Crossbar answers a HELLO (and, for challenged methods, an AUTHENTICATE) in
its RouterSession: WELCOME (Accept), CHALLENGE, or ABORT (Deny). The worker's
sessions here are Crossbar's, with each final answer counted: so every
method is counted alike, cookie and anonymous logins included, whatever
authenticator checked it. A refusal is told apart by its reason and message:
the store being unreachable, the login throttle, a busy router, an internal
error, or (anything else) a failure.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp.types import Accept, Challenge, Deny
from crossbar.router.session import RouterSession
from twisted.internet.defer import maybeDeferred

from cfxstore.router import metrics
from cfxstore.router.auth import BUSY, UNAVAILABLE
from cfxstore.router.availability import STORE_UNAVAILABLE
from cfxstore.router.strictmatch import StrictRouterController

#: How the login throttle's refusals begin (throttle.py, Throttled).
THROTTLED_PREFIX = "too many "


def outcome(answer: Any) -> str | None:
    """The outcome label of a final answer to a login; None for a challenge (not final)."""
    if isinstance(answer, Accept):
        return "success"
    if isinstance(answer, Challenge) or not isinstance(answer, Deny):
        return None
    message = answer.message or ""
    if answer.reason == STORE_UNAVAILABLE:
        return "unavailable"
    if message.startswith(THROTTLED_PREFIX):
        return "throttled"
    if message == BUSY:
        return "busy"
    if message == UNAVAILABLE or message.startswith("internal error"):
        return "error"
    return "failure"


class CountedRouterSession(RouterSession):
    """Crossbar's router session, counting the final answer to every login."""

    def onHello(self, realm: str, details: Any) -> Any:
        offered = details.authmethods or ["anonymous"]
        return maybeDeferred(super().onHello, realm, details).addBoth(self._count, offered[0])

    def onAuthenticate(self, signature: str, extra: Any) -> Any:
        return maybeDeferred(super().onAuthenticate, signature, extra).addBoth(self._count, None)

    def _count(self, answer: Any, offered: str | None) -> Any:
        pending = getattr(self._pending_auth, "AUTHMETHOD", None)
        method = answer.authmethod if isinstance(answer, Accept) else pending or offered
        result = outcome(answer) if isinstance(answer, (Accept, Challenge, Deny)) else "error"
        if result is not None:
            metrics.login(method, result)
        return answer


class CountingRouterController(StrictRouterController):
    """The router worker (strict matching where a realm asks) whose sessions count their logins."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._router_session_factory.session = CountedRouterSession
