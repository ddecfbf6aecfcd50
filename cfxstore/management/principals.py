"""Principals: the generic record operations plus their secrets, which CredentialService hashes.

Secrets are set in their own transaction, never inside the caller's: hashing
is slow on purpose and must not hold the database's single writer.
"""

from __future__ import annotations

from typing import Any

from cfxstore.entity import Entity
from cfxstore.management.errors import InvalidArgument, NotFound
from cfxstore.management.store import Collection

__all__ = ["PrincipalCollection", "SECRET_METHODS"]

SECRET_METHODS = ("ticket", "wampcra")


class PrincipalCollection(Collection):

    def create(self, txn: Any = None, *, ticket: str | None = None, wampcra: str | None = None,
               **fields: Any) -> Entity:
        """A principal, with a ticket and/or WAMP-CRA secret when given (stored hashed/derived)."""
        secrets = {m: s for m, s in (("ticket", ticket), ("wampcra", wampcra)) if s is not None}
        if secrets and txn is not None:
            raise InvalidArgument("principal: secrets are set in their own transaction; "
                                  "create the principal in yours, then call set_secret")
        for method, secret in secrets.items():
            _require_secret(method, secret)
        principal = super().create(txn, **fields)
        try:
            for method, secret in secrets.items():
                self.set_secret(principal.oid, method, secret)
        except BaseException:
            self.delete(principal.oid)  # no principal without the secret asked for
            raise
        return principal

    def set_secret(self, key: Any, method: str, secret: str, **options: Any) -> None:
        """Store the hash (ticket) or derived key (wampcra) of ``secret`` for the principal."""
        if method not in SECRET_METHODS:
            raise InvalidArgument(f"method: expected one of {', '.join(SECRET_METHODS)}, got {method!r}")
        _require_secret(method, secret)
        principal = self.get(key)
        creds = self._m.credentials
        try:
            if method == "ticket":
                creds.set_ticket(principal.realm, principal.authid, secret, **options)
            else:
                creds.set_wampcra(principal.realm, principal.authid, secret, **options)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{method}: {exc}") from None
        self._m.notify("principal", "updated", principal)

    def credentials(self, key: Any, txn: Any = None) -> list[dict[str, Any]]:
        """The kinds of secret the principal has and when they were set (never the material)."""
        principal = self.get(key, txn)
        creds = self._m.collection("credential")
        with self._m.transaction(txn) as t:
            return [{"authmethod": c.authmethod, "created": c.created, "modified": c.modified}
                    for c in creds.referring(t, "principal_oid", principal.oid)]


def _require_secret(method: str, secret: Any) -> None:
    if not isinstance(secret, str) or not secret:
        raise InvalidArgument(f"{method}: expected a non-empty string")
