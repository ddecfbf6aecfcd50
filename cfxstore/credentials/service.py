"""CredentialService: WAMP principals and their ticket / WAMP-CRA credentials.

Secrets never reach the database in a recoverable form:

* tickets are stored as argon2id hashes and checked with argon2's
  constant-time verify;
* WAMP-CRA stores only the PBKDF2 key the router signs challenges with
  (plus salt, iterations, key length), never the password.
"""

from __future__ import annotations

import secrets
from typing import Any

import orm
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from autobahn.wamp.auth import derive_key

from cfxstore.service import Service
from cfxstore.mrealm.entities import Credential, Principal
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.timeutil import now_ns

__all__ = ["CredentialService", "CredentialError", "PrincipalExists", "PrincipalNotFound"]

_BY_REALM_AUTHID = "idx_principals_by_realm_authid"
_BY_AUTH = "idx_credentials_by_auth"
_BY_PRINCIPAL = "idx_credentials_by_principal"

_MIN_KEYLEN, _MAX_KEYLEN = 16, 64


class CredentialError(Exception):
    """Base class of the errors CredentialService raises on purpose."""


class PrincipalExists(CredentialError, ValueError):
    """add_principal for a (realm, authid) that already has a principal."""


class PrincipalNotFound(CredentialError, LookupError):
    """A credential was set for a (realm, authid) without a principal."""


class CredentialService(Service):
    """Principals per realm, with argon2id tickets and PBKDF2-derived WAMP-CRA keys."""

    def __init__(self, db: orm.Database, *, hasher: PasswordHasher | None = None) -> None:
        """``hasher`` tunes argon2id cost (tests use a cheap one); it must be argon2id."""
        hasher = hasher if hasher is not None else PasswordHasher(type=Type.ID)
        if hasher.type is not Type.ID:
            raise ValueError(f"CredentialService: hasher must use argon2id, got {hasher.type.name}")
        self.db = db
        self._schema = MrealmSchema.attach(db)
        self._hasher = hasher
        # Verified against when the authid is unknown so a miss costs as much
        # as a wrong ticket and response time does not reveal which authids exist.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(32))

    @property
    def schema(self) -> MrealmSchema:
        return self._schema

    # --- principals ---

    def add_principal(self, *, realm: str, authid: str, role: str, extra: dict | None = None) -> Principal:
        """Create the principal; PrincipalExists if (realm, authid) is taken."""
        principal = Principal(realm=realm, authid=authid, role=role, extra=extra)
        try:
            with self.db.begin(write=True) as txn:
                self._schema.principals[txn, principal.oid] = principal
        except orm.UniqueViolation:
            raise PrincipalExists(f"principal {authid!r} already exists on realm {realm!r}") from None
        return principal

    def get_principal(self, realm: str, authid: str) -> Principal | None:
        with self.db.begin() as txn:
            return self._principal(txn, realm, authid)

    def list_principals(self, realm: str | None = None) -> list[Principal]:
        """Principals ordered by (realm, authid), optionally of one realm only."""
        prefix = None if realm is None else (realm,)
        with self.db.begin() as txn:
            oids = self._schema.idx_principals_by_realm_authid.select(txn, prefix=prefix, return_keys=False)
            return [self._schema.principals[txn, oid] for oid in oids]

    def remove_principal(self, realm: str, authid: str) -> bool:
        """Delete the principal and all its credentials; False if unknown."""
        with self.db.begin(write=True) as txn:
            principal = self._principal(txn, realm, authid)
            if principal is None:
                return False
            for cred_oid in self._schema.credentials.keys_by_index(txn, _BY_PRINCIPAL, principal.oid):
                del self._schema.credentials[txn, cred_oid]
            del self._schema.principals[txn, principal.oid]
        return True

    # --- ticket ---

    def set_ticket(self, realm: str, authid: str, ticket: str) -> None:
        """Store (or replace) the argon2id hash of ``ticket``."""
        _require_secret("ticket", ticket, nonempty=True)
        # Hash before the write transaction: argon2 is slow on purpose and
        # must not hold the database's single writer lock.
        self._put_credential(realm, authid, "ticket", {"hash": self._hasher.hash(ticket)})

    def verify_ticket(self, realm: str, authid: str, ticket: str) -> Principal | None:
        """The principal if ``ticket`` is right, else None (unknown authid included)."""
        _require_secret("ticket", ticket)
        with self.db.begin() as txn:
            cred = self._credential(txn, "ticket", realm, authid)
            principal = None if cred is None else self._schema.principals[txn, cred.principal_oid]
        stored = cred.authconfig.get("hash") if cred is not None and principal is not None else None
        if not isinstance(stored, str):
            self._verify(self._dummy_hash, ticket)
            return None
        if not self._verify(stored, ticket):
            return None
        if self._hasher.check_needs_rehash(stored):
            self._rehash(cred, ticket)
        return principal

    # --- WAMP-CRA ---

    def set_wampcra(
        self,
        realm: str,
        authid: str,
        secret: str,
        *,
        salt: str | None = None,
        iterations: int = 1000,
        keylen: int = 32,
    ) -> None:
        """Store the PBKDF2 key derived from ``secret`` (a random salt unless given)."""
        _require_secret("secret", secret, nonempty=True)
        if salt is None:
            salt = secrets.token_urlsafe(24)
        elif not isinstance(salt, str) or not salt:
            raise ValueError("set_wampcra: salt must be a non-empty str")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"set_wampcra: iterations must be a positive int, got {iterations!r}")
        if isinstance(keylen, bool) or not isinstance(keylen, int) or not _MIN_KEYLEN <= keylen <= _MAX_KEYLEN:
            raise ValueError(f"set_wampcra: keylen must be an int in {_MIN_KEYLEN}..{_MAX_KEYLEN}, got {keylen!r}")
        key = derive_key(secret, salt, iterations, keylen).decode("ascii")
        config = {"key": key, "salt": salt, "iterations": iterations, "keylen": keylen}
        self._put_credential(realm, authid, "wampcra", config)

    def get_wampcra(self, realm: str, authid: str) -> dict | None:
        """What the router needs to challenge ``authid``; ``secret`` is the derived key."""
        with self.db.begin() as txn:
            cred = self._credential(txn, "wampcra", realm, authid)
            if cred is None:
                return None
            principal = self._schema.principals[txn, cred.principal_oid]
        if principal is None:
            return None
        cfg = cred.authconfig
        return {
            "secret": cfg["key"],
            "salt": cfg["salt"],
            "iterations": cfg["iterations"],
            "keylen": cfg["keylen"],
            "role": principal.role,
            "authid": principal.authid,
            "realm": principal.realm,
            "extra": principal.extra,
        }

    # --- internals ---

    def _principal(self, txn: Any, realm: str, authid: str) -> Principal | None:
        return self._schema.principals.get_by_index(txn, _BY_REALM_AUTHID, (realm, authid))

    def _credential(self, txn: Any, authmethod: str, realm: str, authid: str) -> Credential | None:
        return self._schema.credentials.get_by_index(txn, _BY_AUTH, (authmethod, realm, authid))

    def _put_credential(self, realm: str, authid: str, authmethod: str, config: dict[str, Any]) -> None:
        with self.db.begin(write=True) as txn:
            principal = self._principal(txn, realm, authid)
            if principal is None:
                raise PrincipalNotFound(f"no principal {authid!r} on realm {realm!r}")
            cred = self._credential(txn, authmethod, realm, authid)
            now = now_ns()
            if cred is None:
                cred = Credential(principal_oid=principal.oid, authmethod=authmethod, realm=realm, authid=authid,
                                  authconfig=config, created=now, modified=now)
            else:
                cred.authconfig = config
                cred.modified = now
                cred.validate()
            self._schema.credentials[txn, cred.oid] = cred

    def _verify(self, stored: str, ticket: str) -> bool:
        try:
            return self._hasher.verify(stored, ticket)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _rehash(self, cred: Credential, ticket: str) -> None:
        # Raising the cost parameters upgrades stored hashes on the next login.
        try:
            self._put_credential(cred.realm, cred.authid, "ticket", {"hash": self._hasher.hash(ticket)})
        except (orm.ReadOnlyError, PrincipalNotFound):
            pass


def _require_secret(name: str, value: Any, nonempty: bool = False) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty")
