"""WAMP-SCRAM against stored keys, with the outcome reported to cfxstore's failure throttle.

Crossbar's SCRAM already keeps only StoredKey and ServerKey and compares in
constant time. What this subclass adds, for principals from cfxstore: the
client's proof is checked without raising on malformed input, the outcome
goes to the authenticator's one path for every attempt (auth.py: counted,
a denial answered at the fixed delay), and a failure is one denial whatever
went wrong, whether the authid exists or not (unknown authids get a decoy
challenge from the authenticator). Everything else is Crossbar's SCRAM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Callable

from autobahn.wamp.types import Accept
from passlib.utils import saslprep  # type: ignore[import-untyped]  # comes with Crossbar, untyped

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.scram import PendingAuthScram

from cfxstore.credentials.service import CredentialService
from cfxstore.node.config import ScramConfig
from cfxstore.router.outcome import ReportsOutcome

DENIED = "SCRAM authentication failed"


def _proof(signature: Any) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True) if isinstance(signature, (str, bytes)) else None
    except (binascii.Error, ValueError):
        return None


class PendingAuthScramStored(ReportsOutcome, PendingAuthScram):
    """Crossbar's pending WAMP-SCRAM, reporting to the throttle."""
    # Set by Crossbar's SCRAM from the HELLO and the principal, before authenticate is called.
    _authid: str
    _client_nonce: bytes
    _server_nonce: bytes
    _salt: bytes
    _iterations: int
    _stored_key: bytes
    _server_key: bytes

    def _verify(self, signature: Any) -> tuple[bool, Callable[[], Accept]]:
        try:
            auth_message = self._auth_message().encode("utf-8")
        except ValueError:  # an authid SASLprep refuses (Crossbar's own SCRAM would raise here)
            auth_message = b""
        proof = _proof(signature)
        ok = False
        if auth_message and proof is not None and len(proof) == len(self._stored_key):
            client_signature = hmac.new(self._stored_key, auth_message, hashlib.sha256).digest()
            client_key = bytes(a ^ b for a, b in zip(client_signature, proof))
            ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), self._stored_key)

        def accept() -> Accept:
            server_signature = hmac.new(self._server_key, auth_message, hashlib.sha256).digest()
            # Sent back in WELCOME, so the client can tell it talked to a router that knows its keys.
            self._authextra = {**(self._authextra or {}),
                               "scram_server_signature": base64.b64encode(server_signature).decode("ascii")}
            return self._accept()

        return ok, accept

    def _auth_message(self) -> str:
        """RFC 5802's AuthMessage, as Crossbar's SCRAM and Autobahn's client build it (no channel binding)."""
        client_nonce = base64.b64encode(self._client_nonce).decode("ascii")
        server_nonce = base64.b64encode(self._server_nonce).decode("ascii")
        salt = base64.b64encode(self._salt).decode("ascii")
        return (f"n={saslprep(self._authid)},r={client_nonce},"
                f"r={server_nonce},s={salt},i={self._iterations},"
                f"c=,r={server_nonce}")


def principal_for(credentials: CredentialService, config: ScramConfig, realm: str, authid: str) -> dict[str, Any]:
    """What Crossbar's SCRAM challenges ``authid`` with: its stored credential, or a decoy shaped like one."""
    found = credentials.get_scram(realm, authid)
    if found is None:
        stored = credentials.scram_decoy(realm, authid, kdf=config.kdf, iterations=config.iterations,
                                         memory=config.memory)
        principal: dict[str, Any] = {"realm": realm, "authid": authid, "role": config.decoy_role}
    else:
        p, stored = found
        principal = {"realm": p.realm, "authid": p.authid, "role": p.role}
        if p.extra is not None:
            principal["extra"] = p.extra
    return {**principal, **stored}


def install() -> None:
    """Make the router use PendingAuthScramStored for "scram" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["scram"] = PendingAuthScramStored
