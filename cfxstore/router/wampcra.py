"""WAMP-CRA against a stored derived key.

cfxstore keeps only the PBKDF2 key derived from a WAMP-CRA secret (plus salt,
iterations and key length). The client derives the same key from its secret
and signs the challenge with it. Crossbar's WAMP-CRA, when a principal has a
salt, derives the key from the principal's "secret" itself, which would derive
twice. Principals from cfxstore carry ``"secret_is_derived": True``; for them
this subclass signs with the stored key as is, compares the client's signature
in constant time (Crossbar uses ``==`` and logs the expected signature) and
reports the outcome to cfxstore's failure throttle, which says whether the
attempt may still succeed (an expired challenge may not) and how long to
wait before a denial is sent. Everything else behaves exactly like Crossbar's
WAMP-CRA.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Callable

from autobahn import util
from autobahn.wamp import auth
from autobahn.wamp.types import Accept, Deny
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.wampcra import PendingAuthWampCra

DERIVED_FLAG = "secret_is_derived"
# Principal key holding a callable(ok: bool) -> (accepted: bool, deny_delay: float)
# that the authenticator wants to hear the signature check's outcome on.
OUTCOME_HOOK = "_cfxstore_outcome"


class PendingAuthWampCraDerived(PendingAuthWampCra):
    """Crossbar's pending WAMP-CRA, plus support for pre-derived keys."""

    _outcome: Callable[[bool], tuple[bool, float]] | None = None

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
        ok = isinstance(signature, str) and hmac.compare_digest(signature.encode(), self._signature.encode())
        accepted, delay = outcome(ok)
        if accepted:
            return self._accept()
        deny = Deny(message="WAMP-CRA client signature is invalid")
        if delay <= 0:
            return deny
        # The reactor Crossbar installed: imported earlier, this would install Twisted's default one.
        from twisted.internet import reactor

        return deferLater(reactor, delay, lambda: deny)


def install() -> None:
    """Make the router use PendingAuthWampCraDerived for "wampcra" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["wampcra"] = PendingAuthWampCraDerived
