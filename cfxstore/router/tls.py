"""WAMP-TLS (client certificates) with a "function" authenticator.

Crossbar's node config accepts ``"tls": {"type": "function", ...}`` but its
pending TLS authentication only answers "static" and "dynamic". This
subclass adds "function": once the TLS handshake has verified the client's
certificate, the function authenticator gets the HELLO as every other
method does (``details["transport"]["peer_cert"]`` holds the certificate's
fingerprints, subject and issuer) and returns the principal or a denial.
Everything else is Crossbar's WAMP-TLS.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp.types import Accept, Deny, HelloDetails
from twisted.internet.defer import maybeDeferred

import crossbar.router.auth as crossbar_auth
from crossbar.router.auth.tls import PendingAuthTLS

from cfxstore.credentials import tls
from cfxstore.credentials.service import CredentialService
from cfxstore.mrealm.entities import Principal
from cfxstore.node.config import resolve_path
from cfxstore.node.errors import RouterConfigError


class PendingAuthTLSFunction(PendingAuthTLS):
    """Crossbar's pending WAMP-TLS, plus function authenticators."""

    def hello(self, realm: str, details: HelloDetails) -> Any:
        if self._config.get("type") != "function":
            return super().hello(realm, details)
        if not self._peer_cert:
            return Deny(message="client did not send a TLS client certificate")
        self._realm = realm
        self._authid = details.authid
        self._authprovider = "function"
        self._session_details["authmethod"] = self._authmethod
        self._session_details["authextra"] = details.authextra

        def init(error: Any) -> Any:
            if error:
                return error
            # Crossbar types it as the dynamic authenticator's URI; for "function" it is the callable.
            authenticate: Any = self._authenticator
            d = maybeDeferred(authenticate, realm, details.authid, self._session_details)
            d.addCallbacks(self._on_principal, self._marshal_dynamic_authenticator_error)
            return d

        d = maybeDeferred(self._init_function_authenticator)
        d.addBoth(init)
        return d

    def _on_principal(self, principal: Any) -> Accept | Deny:
        error = self._assign_principal(principal)
        return error if error else self._accept()


def install() -> None:
    """Make the router use PendingAuthTLSFunction for "tls" (idempotent)."""
    crossbar_auth.AUTHMETHOD_MAP["tls"] = PendingAuthTLSFunction


def load_issuers(paths: tuple[str, ...], cbdir: str) -> tuple[dict[str, str], ...]:
    """The subject names of the CA certificates in ``paths`` (relative to the node directory)."""
    subjects = []
    for path in paths:
        full = resolve_path(path, cbdir)
        try:
            with open(full, "rb") as f:
                subjects.append(tls.pem_subject(f.read(), full))
        except OSError as exc:
            raise RouterConfigError("auth.config.tls.cn_issuers", f"cannot read {full}: {exc.strerror}") from None
        except ValueError as exc:  # not a PEM certificate
            raise RouterConfigError("auth.config.tls.cn_issuers", str(exc)) from None
    return tuple(subjects)


def principal_of(credentials: CredentialService, realm: str, authid: str | None, details: dict[str, Any],
                 cn_issuers: tuple[dict[str, str], ...]) -> Principal | None:
    """The principal a client certificate identifies (and, if the client named an authid, it is that one)."""
    transport = details.get("transport")
    cert = transport.get("peer_cert") if isinstance(transport, dict) else None
    principal = credentials.tls_principal(realm, tls.peer_keys(cert, cn_issuers))
    if principal is None or (authid is not None and principal.authid != authid):
        return None
    return principal


def throttle_key(authid: str | None, details: dict[str, Any]) -> str:
    """Whom the throttle counts a TLS attempt against: the authid asked for, else the certificate."""
    if authid:
        return authid
    transport = details.get("transport")
    cert = transport.get("peer_cert") if isinstance(transport, dict) else None
    sha256 = cert.get("sha256") if isinstance(cert, dict) else None
    return f"tls:{sha256}" if isinstance(sha256, str) else "tls:"
