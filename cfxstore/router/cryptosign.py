"""WAMP-cryptosign against the stored keys, with the outcome reported to the authenticator's one path.

Crossbar's cryptosign asks the function authenticator for a principal and
its ``pubkey``, sends the client a random challenge (XORed with the TLS
channel id when the client asked for ``tls-unique`` channel binding) and
checks the Ed25519 signature itself, telling nobody how it went. Principals
from cfxstore carry a hook (outcome.py, as for WAMP-CRA and SCRAM); for
them this subclass checks the signature against the same expected message
without raising on malformed input and hands the outcome to the
authenticator (auth.py: counted by the throttle, a denial answered at the
fixed delay), so every failure looks alike: a client whose key is unknown,
revoked or outside its validity window is challenged for DECOY_PUBKEY, whose
private half nobody has. Everything else, channel binding included, is
Crossbar's.
"""

from __future__ import annotations

import binascii
import hmac
from typing import Any, Callable

from autobahn.wamp.types import Accept
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.cryptosign import PendingAuthCryptosign

from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.router.outcome import ReportsOutcome

__all__ = ["PendingAuthCryptosignStored", "install", "principal_for", "pubkey_of", "throttle_key",
           "DECOY_PUBKEY", "DENIED"]

#: The key unknown clients are challenged with: its private half is dropped here, so no signature matches.
DECOY_PUBKEY = SigningKey.generate().verify_key.encode().hex()
#: What every failed cryptosign login is told, whatever failed.
DENIED = "WAMP-cryptosign signature is invalid"
_SIGNED_LENGTH = 96  # a 64-byte Ed25519 signature followed by the 32 bytes signed


class PendingAuthCryptosignStored(ReportsOutcome, PendingAuthCryptosign):
    """Crossbar's pending cryptosign, reporting outcomes of cfxstore principals to the throttle."""

    def _verify(self, signature: Any) -> tuple[bool, Callable[[], Accept]]:
        return self._signed(signature), self._accept

    def _signed(self, signature: Any) -> bool:
        """Whether signature is the client key's signature over the expected message (channel binding included)."""
        expected, key = self._expected_signed_message, self._verify_key
        if not isinstance(signature, str) or expected is None or key is None:
            return False
        try:
            signed = binascii.a2b_hex(signature)
            if len(signed) != _SIGNED_LENGTH:
                return False
            message = key.verify(signed)
        except (ValueError, BadSignatureError):  # binascii's and PyNaCl's errors are ValueErrors
            return False
        return hmac.compare_digest(message, expected)


def pubkey_of(details: dict[str, Any]) -> Any:
    """The public key a cryptosign client sent in its HELLO's authextra, if any."""
    extra = details.get("authextra")
    return extra.get("pubkey") if isinstance(extra, dict) else None


def throttle_key(authid: str | None, pubkey: Any) -> str:
    """What the throttle counts a client's attempts under: its authid, else the key it names itself by."""
    return authid if authid else f"cryptosign:{pubkey if isinstance(pubkey, str) else ''}"[:300]


def principal_for(keyring: CryptosignKeyring, decoy_role: str, realm: str, authid: str | None,
                  pubkey: Any) -> dict[str, Any]:
    """What Crossbar's cryptosign challenges the client with: its principal and key, or a decoy shaped like one."""
    match = keyring.find(realm, authid, pubkey)
    if match is None:
        return {"realm": realm, "authid": authid or "anonymous", "role": decoy_role, "pubkey": DECOY_PUBKEY}
    p = match.principal
    principal: dict[str, Any] = {"realm": p.realm, "authid": p.authid, "role": p.role, "pubkey": match.pubkey}
    if p.extra is not None:
        principal["extra"] = p.extra
    return principal


def install() -> None:
    """Make the router use PendingAuthCryptosignStored for "cryptosign" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["cryptosign"] = PendingAuthCryptosignStored
