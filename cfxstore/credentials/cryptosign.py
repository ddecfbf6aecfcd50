"""Which principal a WAMP-cryptosign HELLO speaks for, read from the stored keys at every login.

The router calls ``CryptosignKeyring.find`` for each HELLO, so a key added,
revoked or expired takes effect at the next login on every node: there is no
cache to go stale. A client names itself by its public key (Autobahn sends it
in ``authextra.pubkey``), by its authid, or both; the key must be stored for
a principal of the realm asked for, under that authid when one is given, and
be within its validity window and not revoked. A principal with one usable
key is found by authid alone (a client that sends no key); with several, the
client must say which.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orm
from cfxstore.limits import MAX_AUTHID_BYTES, MAX_REALM_BYTES
from cfxstore.mrealm.entities import CryptosignKey, Principal
from cfxstore.mrealm.schema import CryptosignKeySchema, MrealmSchema
from cfxstore.service import attached
from cfxstore.timeutil import now_ns

__all__ = ["CryptosignKeyring", "Match"]

_BY_REALM_AUTHID = "idx_principals_by_realm_authid"
_BY_PRINCIPAL = "idx_cryptosign_keys_by_principal"
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclasses.dataclass(frozen=True)
class Match:
    """A principal and the key it logs in with (lowercase hex)."""

    principal: Principal
    pubkey: str


def _fits(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value.encode("utf-8", "surrogatepass")) <= limit


def _pubkey(value: Any) -> str | None:
    """The key a client sent, as stored, or None if it is not 64 hex characters."""
    if isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value):
        return value.lower()
    return None


class CryptosignKeyring:
    """Reads principals' cryptosign keys on one database (the router's side; writes go through Management)."""

    def __init__(self, db: orm.Database) -> None:
        self.db = db
        self._principals = attached(MrealmSchema, db)
        self._keys: CryptosignKeySchema | None = None
        self._schema()  # now, not inside a transaction (a table opened inside a read transaction is not usable in it)

    def _schema(self) -> CryptosignKeySchema | None:
        if self._keys is None:
            try:
                self._keys = attached(CryptosignKeySchema, self.db)
            except orm.SchemaError:  # a read-only database written before keys existed: it has none
                return None
        return self._keys

    def find(self, realm: str, authid: str | None, pubkey: Any, now: int | None = None) -> Match | None:
        """The principal of realm that may log in with pubkey (and authid, if given) at now; else None."""
        if not _fits(realm, MAX_REALM_BYTES) or (authid is not None and not _fits(authid, MAX_AUTHID_BYTES)):
            return None
        schema = self._schema()
        if schema is None:
            return None
        now = now_ns() if now is None else now
        wanted = _pubkey(pubkey)
        if pubkey is not None and wanted is None:
            return None
        with self.db.begin() as txn:
            if wanted is not None:
                key = schema.cryptosign_keys[txn, wanted]
                principal = None if key is None else self._principals.principals[txn, key.principal_oid]
                usable = [key] if key is not None and key.usable(now) else []
            elif authid is not None:
                principal = self._principals.principals.get_by_index(txn, _BY_REALM_AUTHID, (realm, authid))
                usable = [] if principal is None else self._usable(schema, txn, principal, now)
            else:
                return None
        if principal is None or principal.realm != realm or (authid is not None and principal.authid != authid):
            return None
        return Match(principal, usable[0].pubkey) if len(usable) == 1 else None

    def principals_with_keys(self) -> set[Any]:
        """The oids of the principals that have cryptosign keys (revoked ones included)."""
        schema = self._schema()
        if schema is None:
            return set()
        with self.db.begin() as txn:
            return set(schema.idx_cryptosign_keys_by_principal.select(txn, return_values=False))

    @staticmethod
    def _usable(schema: CryptosignKeySchema, txn: Any, principal: Principal, now: int) -> list[CryptosignKey]:
        keys = (schema.cryptosign_keys[txn, k] for k in
                schema.cryptosign_keys.keys_by_index(txn, _BY_PRINCIPAL, principal.oid))
        return [k for k in keys if k is not None and k.usable(now)]
