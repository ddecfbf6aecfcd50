"""WAMP-CRA against a stored derived key.

cfxstore keeps only the PBKDF2 key derived from a WAMP-CRA secret (plus salt,
iterations and key length). The client derives the same key from its secret
and signs the challenge with it. Crossbar's WAMP-CRA, when a principal has a
salt, derives the key from the principal's "secret" itself, which would derive
twice. Principals from cfxstore carry ``"secret_is_derived": True``; for them
this subclass signs with the stored key as is, compares the client's signature
in constant time (Crossbar uses ``==`` and logs the expected signature) and
hands the outcome to the authenticator (auth.py), whose one path for every
attempt counts it and answers a denial at the fixed delay. Everything else
behaves exactly like Crossbar's WAMP-CRA.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Callable

from autobahn import util
from autobahn.wamp import auth
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import Accept, Deny
from twisted.internet.defer import Deferred

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.wampcra import PendingAuthWampCra

DERIVED_FLAG = "secret_is_derived"
# Principal key holding a callable(ok: bool) that the authenticator wants to hear the signature check's
# outcome on: it returns (or fires a Deferred with) anything when the login is accepted, and raises
# (or errbacks) an ApplicationError whose message is the denial.
OUTCOME_HOOK = "_cfxstore_outcome"


class PendingAuthWampCraDerived(PendingAuthWampCra):
    """Crossbar's pending WAMP-CRA, plus support for pre-derived keys."""

    _outcome: Callable[[bool], Any] | None = None

    def _compute_challenge(self, user: dict[str, Any]) -> tuple[dict[str, Any], str]:
        self._outcome = user.pop(OUTCOME_HOOK, None)
        if not user.get(DERIVED_FLAG):
            return super()._compute_challenge(user)
        challenge = json.dumps({
            "authid": self._authid,
            "authrole": self._authrole,
            "authmethod": self._authmethod,
            "authprovider": self._authprovider,
            "session": self._session_details["session"],
            "nonce": util.newid(64),
            "timestamp": util.utcnow(),
        }, ensure_ascii=False)
        extra = {"challenge": challenge, "salt": user["salt"], "iterations": user["iterations"],
                 "keylen": user["keylen"]}
        signature = auth.compute_wcs(user["secret"].encode("utf8"), challenge.encode("utf8")).decode("ascii")
        return extra, signature

    # Crossbar's hint names Accept | Deny, but its router awaits whatever authenticate returns.
    def authenticate(self, signature: str) -> Accept | Deny | Deferred:  # type: ignore[override]
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return super().authenticate(signature)
        assert self._signature is not None, "_compute_challenge sets it before Crossbar asks to authenticate"
        # surrogatepass: any string the client sends compares (and fails) instead of raising.
        ok = isinstance(signature, str) and hmac.compare_digest(signature.encode("utf-8", "surrogatepass"),
                                                                self._signature.encode())
        return settle(outcome, ok, self._accept)


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


def install() -> None:
    """Make the router use PendingAuthWampCraDerived for "wampcra" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["wampcra"] = PendingAuthWampCraDerived
