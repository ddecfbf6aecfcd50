"""WAMP-CRA against a stored derived key.

cfxstore keeps only the PBKDF2 key derived from a WAMP-CRA secret (plus salt,
iterations and key length). The client derives the same key from its secret
and signs the challenge with it. Crossbar's WAMP-CRA, when a principal has a
salt, derives the key from the principal's "secret" itself, which would derive
twice. Principals from cfxstore carry ``"secret_is_derived": True``; for them
this subclass signs with the stored key as is, compares the client's signature
in constant time (Crossbar uses ``==`` and logs the expected signature) and
hands the outcome to the authenticator (outcome.py). Everything else
behaves exactly like Crossbar's WAMP-CRA.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Callable

from autobahn import util
from autobahn.wamp import auth
from autobahn.wamp.types import Accept

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.wampcra import PendingAuthWampCra

from cfxstore.router.outcome import ReportsOutcome

DERIVED_FLAG = "secret_is_derived"


class PendingAuthWampCraDerived(ReportsOutcome, PendingAuthWampCra):
    """Crossbar's pending WAMP-CRA, plus support for pre-derived keys."""

    def _compute_challenge(self, user: dict[str, Any]) -> tuple[dict[str, Any], str]:
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

    def _verify(self, signature: Any) -> tuple[bool, Callable[[], Accept]]:
        assert self._signature is not None, "_compute_challenge sets it before Crossbar asks to authenticate"
        # surrogatepass: any string the client sends compares (and fails) instead of raising.
        ok = isinstance(signature, str) and hmac.compare_digest(signature.encode("utf-8", "surrogatepass"),
                                                                self._signature.encode())
        return ok, self._accept


def install() -> None:
    """Make the router use PendingAuthWampCraDerived for "wampcra" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["wampcra"] = PendingAuthWampCraDerived
