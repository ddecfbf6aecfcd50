"""How a challenge's outcome reaches the authenticator, for every challenge-response method.

The authenticator (auth.py) hands Crossbar a principal carrying a hook
(OUTCOME_HOOK). The pending-auth classes of WAMP-CRA, SCRAM and cryptosign
take the hook off the principal before Crossbar sees it, check the client's
signature themselves in constant time, and hand the result to the hook, so
that one path counts every attempt and answers every denial at the fixed
delay. A principal without the hook (not from cfxstore) gets Crossbar's own
check unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import Accept, Deny
from twisted.internet.defer import Deferred

# Principal key holding a callable(ok: bool) that the authenticator wants to hear the signature check's
# outcome on: it returns (or fires a Deferred with) anything when the login is accepted, and raises
# (or errbacks) an ApplicationError whose message is the denial.
OUTCOME_HOOK = "_cfxstore_outcome"


class ReportsOutcome:
    """Mixed in before a Crossbar pending-auth class; subclasses say how a signature is checked (``_verify``)."""

    _outcome: Callable[[bool], Any] | None = None

    def _assign_principal(self, principal: Any) -> Any:
        if isinstance(principal, dict):
            self._outcome = principal.pop(OUTCOME_HOOK, None)
        return super()._assign_principal(principal)  # type: ignore[misc]

    # An Accept, a Deny or a Deferred firing with one: Crossbar's hint names Accept | Deny, but its
    # router awaits whatever authenticate returns (Any keeps the mixin compatible with that hint).
    def authenticate(self, signature: str) -> Any:
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return super().authenticate(signature)  # type: ignore[misc]
        ok, accept = self._verify(signature)
        return settle(outcome, ok, accept)

    def _verify(self, signature: Any) -> tuple[bool, Callable[[], Accept]]:
        """Whether the client's signature is right, and what accepting the login returns."""
        raise NotImplementedError


def settle(outcome: Callable[[bool], Any], ok: bool, accept: Callable[[], Accept]) -> Accept | Deny | Deferred:
    """Hand a challenge's outcome to the authenticator: accept() if it accepts, else a Deny with its message."""
    try:
        result = outcome(ok)
    except ApplicationError as exc:
        return _deny(exc)
    if isinstance(result, Deferred):
        return result.addCallbacks(lambda _: accept(), _denied)
    return accept()


def _deny(exc: ApplicationError) -> Deny:
    return Deny(message=exc.args[0] if exc.args else "authentication failed")


def _denied(failure: Any) -> Deny:
    failure.trap(ApplicationError)
    return _deny(failure.value)
