"""Principals: the generic record operations plus their secrets, which CredentialService hashes.

This collection is the one writer of principals and the only caller of
CredentialService.put_credential: every way to add, change or remove a
principal or one of its secrets (the CLI, the management API, ``router
adopt``, the cfxdb import) comes here, so the relations a principal starts
(relations.py: its logins end, its credentials follow its name) always hold.
Disabling a principal is such a change: its logins end, and the router refuses
its logins (cfxstore/router/auth.py) until it is enabled.

A secret is hashed (or its key derived) before any transaction begins, then the principal and
its credentials are written together: in the caller's transaction when one is given, else in
one of their own. Inside a caller's transaction the hashing is already done when the write
happens, but the caller's transaction is open meanwhile: an argon2id ticket or a WAMP-CRA key
derivation (600,000 PBKDF2 rounds) then keeps the caller's writer waiting; generated tickets
(fast hash) do not.
"""

from __future__ import annotations

from typing import Any, Iterator, cast

from cfxstore.entity import Entity
from cfxstore.management.cryptosign_keys import CryptosignKeys
from cfxstore.management.errors import InvalidArgument
from cfxstore.management.store import Collection
from cfxstore.mrealm.entities import Credential, Principal
from cfxstore.timeutil import now_ns

__all__ = ["PrincipalCollection", "SECRET_METHODS", "STORED_METHODS"]

SECRET_METHODS = ("ticket", "wampcra", "scram")
#: Methods whose credential is given in its stored form (set_credential): SCRAM derived elsewhere, TLS matches.
STORED_METHODS = ("scram", "tls")
_REMOVABLE = tuple(dict.fromkeys(SECRET_METHODS + STORED_METHODS))


class PrincipalCollection(CryptosignKeys, Collection):
    """Principals, their secrets (here) and their cryptosign keys (CryptosignKeys)."""

    def create(self, txn: Any = None, *, ticket: str | None = None, wampcra: str | None = None,
               scram: str | None = None, tls: dict[str, Any] | None = None, generated: bool = False,
               scram_options: dict[str, Any] | None = None, **fields: Any) -> Principal:
        """A principal, with the secrets given (stored hashed/derived) and a TLS certificate match, in one write.

        ``generated``: the ticket carries 128+ random bits and is stored with the fast hash.
        ``scram_options``: kdf, iterations, memory of the SCRAM key derivation.
        """
        options = {"ticket": {"generated": True} if generated else {}, "scram": scram_options or {}}
        configs = {m: self._config(m, s, options.get(m, {}))
                   for m, s in (("ticket", ticket), ("wampcra", wampcra), ("scram", scram)) if s is not None}
        if tls is not None:
            configs["tls"] = self._stored("tls", tls)

        def run(t: Any) -> Principal:
            principal = cast(Principal, Collection.create(self, t, **fields))
            for method, config in configs.items():
                self._m.credentials.put_credential(t, principal.realm, principal.authid, method, config)
            return principal

        return self._m.write(txn, run)

    def set_secret(self, key: Any, method: str, secret: str, txn: Any = None, **options: Any) -> None:
        """Store the hash (ticket) or derived keys (wampcra, scram) of ``secret`` for the principal."""
        self._put_credential(key, method, self._config(method, secret, options), txn)

    def set_credential(self, key: Any, method: str, config: dict[str, Any], txn: Any = None) -> None:
        """Store a credential given in its stored form: a SCRAM one derived elsewhere, a TLS certificate match."""
        self._put_credential(key, method, self._stored(method, config), txn)

    def _put_credential(self, key: Any, method: str, config: dict[str, Any], txn: Any) -> None:
        def run(t: Any) -> Entity:
            principal = cast(Principal, self.get(key, t))
            self._m.credentials.put_credential(t, principal.realm, principal.authid, method, config)
            # The record is unchanged; its secrets are not (so its logins end: relations.py).
            self._m.changed(t, self.kind, "updated", principal, principal, method=method)
            return principal

        self._m.write(txn, run)

    def remove_secret(self, key: Any, method: str, txn: Any = None) -> bool:
        """Delete the principal's secret (credential) of method, ending its logins; False if it had none."""
        if method not in _REMOVABLE:
            raise InvalidArgument(f"method: expected one of {', '.join(_REMOVABLE)}, got {method!r}")

        def run(t: Any) -> bool:
            principal = cast(Principal, self.get(key, t))
            if not self._m.credentials.delete_credential(t, principal.realm, principal.authid, method):
                return False
            self._m.changed(t, self.kind, "updated", principal, principal)  # its logins end (relations.py)
            return True

        return self._m.write(txn, run)

    def disable(self, key: Any, txn: Any = None) -> Principal:
        """Disable the principal: its logins end (relations.py) and every login of it is refused like a
        wrong secret until it is enabled. A disabled principal stays as it is (and keeps when it was disabled)."""
        return self._disabled(key, txn, True)

    def enable(self, key: Any, txn: Any = None) -> Principal:
        """Let a disabled principal log in again, with the secrets it has."""
        return self._disabled(key, txn, False)

    def _disabled(self, key: Any, txn: Any, disabled: bool) -> Principal:
        def run(t: Any) -> Principal:
            principal = cast(Principal, self.get(key, t))
            if (principal.disabled is not None) == disabled:
                return principal
            return cast(Principal, self.update(principal.oid, t, disabled=now_ns() if disabled else None))

        return self._m.write(txn, run)

    def _config(self, method: str, secret: Any, options: dict[str, Any]) -> dict[str, Any]:
        """The stored form of a secret, computed before any transaction is opened."""
        if method not in SECRET_METHODS:
            raise InvalidArgument(f"method: expected one of {', '.join(SECRET_METHODS)}, got {method!r}")
        _require_secret(method, secret)
        creds = self._m.credentials
        try:
            if method == "ticket":
                return creds.ticket_config(secret, **options)
            if method == "scram":
                return creds.scram_config(secret, **options)
            return creds.wampcra_config(secret, **options)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{method}: {exc}") from None

    def _stored(self, method: str, config: Any) -> dict[str, Any]:
        if method not in STORED_METHODS:
            raise InvalidArgument(f"method: expected one of {', '.join(STORED_METHODS)}, got {method!r}")
        try:
            return self._m.credentials.stored_config(method, config)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{method}: {exc}") from None

    def credentials(self, key: Any, txn: Any = None) -> list[dict[str, Any]]:
        """The kinds of secret the principal has and when they were set (never the material)."""
        principal = cast(Principal, self.get(key, txn))
        creds = self._m.collection("credential")
        with self._m.transaction(txn) as t:
            found = cast(Iterator[Credential], creds.referring(t, "principal_oid", principal.oid))
            listed = [{"authmethod": c.authmethod, "created": c.created, "modified": c.modified} for c in found]
        return listed + self.keys_summary(principal.oid, txn)


def _require_secret(method: str, secret: Any) -> None:
    if not isinstance(secret, str) or not secret:
        raise InvalidArgument(f"{method}: expected a non-empty string")
