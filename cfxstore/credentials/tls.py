"""TLS client-certificate credentials: which certificate a principal logs in with.

A credential matches the client certificate either by its SHA-256
fingerprint (``{"sha256": "<64 hex>"}``) or by its subject common name
(``{"cn": "<name>"}``), the latter only for certificates issued by a CA the
router's authenticator config names (``tls.cn_issuers``): anyone may make a
certificate with any CN, but only that CA's certificates speak for names.
``{"sha1": "<40 hex>"}`` exists only for principals moved from a stock node
config, which matches on ``certificate-sha1``; new ones use SHA-256.

Each credential has one match key, ``"<kind>:<value>"``, unique per realm
(index ``idx_credentials_by_certificate``, cfxstore/mrealm/schema.py), so the
router finds the principal of a certificate with an index read per key.
"""

from __future__ import annotations

import re
from typing import Any

# cryptography comes with Autobahn (its WAMP-CRA and cryptosign need it).
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from cfxstore.errors import InvalidArgument

__all__ = ["MATCH_KINDS", "check", "fingerprint", "peer_keys", "pem_fingerprint", "pem_subject"]

MATCH_KINDS = ("sha256", "cn", "sha1")
_HEX_DIGITS = {"sha256": 64, "sha1": 40}
_MAX_CN = 64  # X.509 upper bound of a common name (RFC 5280 ub-common-name)
_SEPARATORS = re.compile(r"[:\s]")


def fingerprint(kind: str, value: Any) -> str:
    """A fingerprint in canonical form (lower-case hex, no colons), accepting OpenSSL's ``AB:CD:...``."""
    digits = _HEX_DIGITS[kind]
    text = _SEPARATORS.sub("", value).lower() if isinstance(value, str) else None
    if text is None or len(text) != digits or not all(c in "0123456789abcdef" for c in text):
        raise InvalidArgument(f"{kind}: expected a {kind.upper()} fingerprint of {digits} hex digits "
                              f"(colons allowed), got {value!r}"[:200])
    return text


def _cn(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_CN or value != value.strip():
        raise InvalidArgument(f"cn: expected a common name of 1..{_MAX_CN} characters without surrounding "
                              f"spaces, got {value!r}"[:200])
    return value


def check(config: Any) -> dict[str, str]:
    """A credential in canonical form: exactly one of sha256, cn, sha1."""
    if not isinstance(config, dict):
        raise InvalidArgument(f"expected a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(MATCH_KINDS))
    given = [k for k in MATCH_KINDS if config.get(k) is not None]
    if unknown or len(given) != 1:
        raise InvalidArgument(f"expected exactly one of {', '.join(MATCH_KINDS)}, got {sorted(config)}")
    kind = given[0]
    return {kind: _cn(config[kind]) if kind == "cn" else fingerprint(kind, config[kind])}


def peer_keys(peer_cert: Any, cn_issuers: tuple[dict[str, str], ...] = ()) -> list[str]:
    """The match keys a client certificate (Crossbar's ``peer_cert`` details) may be found under, best first.

    The CN is offered only when the certificate's issuer is one of ``cn_issuers``
    (subject names of the CAs allowed to name principals), as the transport
    verified the chain up to them.
    """
    if not isinstance(peer_cert, dict):
        return []
    found = []
    for kind in ("sha256", "sha1"):
        try:
            found.append(f"{kind}:{fingerprint(kind, peer_cert.get(kind))}")
        except InvalidArgument:
            continue
    subject, issuer = peer_cert.get("subject"), peer_cert.get("issuer")
    cn = subject.get("cn") if isinstance(subject, dict) else None
    # A CN no credential can hold is not looked up (its key could exceed what an index holds).
    if cn_issuers and isinstance(cn, str) and 0 < len(cn) <= _MAX_CN and issuer in cn_issuers:
        found.append(f"cn:{cn}")
    return found


def _load(pem: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise InvalidArgument(f"{what}: not a PEM certificate") from None


def pem_fingerprint(pem: bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate."""
    return _load(pem, "certificate").fingerprint(hashes.SHA256()).hex()


def pem_subject(pem: bytes, what: str = "cn_issuers") -> dict[str, str]:
    """A CA certificate's subject as Crossbar's ``peer_cert`` details name a certificate's issuer.

    Those use OpenSSL's short attribute names in lower case (``cn``, ``o``,
    ``emailaddress``) and keep the last value of a repeated attribute.
    """
    name: dict[str, str] = {}
    for attr in _load(pem, what).subject:
        key = "emailAddress" if attr.oid == NameOID.EMAIL_ADDRESS else attr.rfc4514_attribute_name
        value = attr.value
        name[key.lower()] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return name
