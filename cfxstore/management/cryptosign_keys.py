"""A principal's WAMP-cryptosign keys: add, revoke and list them, through the principals' owner.

A principal has any number of Ed25519 public keys (CryptosignKey records),
each with an optional label and validity window. Revoking one key leaves the
others as they are. Every change goes through ``Management.changed`` in the
transaction that makes it, so it enters the change feed (``cryptosign_key``
created / updated) and the relations of relations.py run: revoking a key ends
the principal's cookie logins, as a changed secret does. Sessions that logged
in with the key stay open until they leave; the router checks keys at every
login, so a revoked key is refused from the next one on.

A revoked key stays stored under its public key and can never be added again
(a key is revoked because it is no longer trusted); deleting the principal
deletes its keys.
"""

from __future__ import annotations

import binascii
import dataclasses
import uuid
from typing import Any, Callable, Iterator, cast

import orm
from cfxstore.credentials.ed25519 import is_public_key
from cfxstore.errors import AlreadyExists, InvalidArgument, NotFound
from cfxstore.management.owner import Owner
from cfxstore.mrealm.entities import CryptosignKey, Principal
from cfxstore.timeutil import now_ns

__all__ = ["parse_pubkey", "CryptosignKeys", "key_state"]

_KIND = "cryptosign_key"
# Stands in for the principal while a key is checked, before the transaction finds the principal.
_NO_PRINCIPAL = uuid.UUID(int=0)


def parse_pubkey(value: Any, field: str = "pubkey") -> str:
    """An Ed25519 public key from its hex form (either case) as stored (lowercase), or InvalidArgument naming field."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field}: expected an Ed25519 public key as 64 hex characters, got "
                              f"{type(value).__name__}")
    text = value.strip()
    if "PRIVATE" in text.upper() or "private-key" in text:
        raise InvalidArgument(f"{field}: this is a private key; give the public key (64 hex characters)")
    try:
        raw = binascii.a2b_hex(text)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{field}: expected 64 hex characters, got {_short(text)}") from None
    if len(raw) == 64:
        raise InvalidArgument(f"{field}: 128 hex characters is the form of a private key (seed and public key); "
                              "give the public key (64 hex characters)")
    if len(raw) != 32:
        raise InvalidArgument(f"{field}: expected 64 hex characters (32 bytes), got {len(text)} characters")
    if not is_public_key(raw):
        raise InvalidArgument(f"{field}: {_short(text)} is not an Ed25519 public key (is it a private key seed?)")
    return text.lower()


def _short(text: str) -> str:
    return repr(text if len(text) <= 72 else text[:72] + "...")


def key_state(key: CryptosignKey, now: int | None = None) -> str:
    """"revoked", "expired", "not yet valid" or "valid" at now (int ns)."""
    now = now_ns() if now is None else now
    if key.revoked is not None:
        return "revoked"
    if key.not_after is not None and now >= key.not_after:
        return "expired"
    if key.not_before is not None and now < key.not_before:
        return "not yet valid"
    return "valid"


class CryptosignKeys:
    """The key operations of the principals' owner (mixed into PrincipalCollection)."""

    _m: Owner
    get: Callable[..., Any]  # Collection.get

    def add_key(self, key: Any, pubkey: str, *, label: str | None = None, not_before: int | None = None,
                not_after: int | None = None, txn: Any = None) -> CryptosignKey:
        """Add public key ``pubkey`` (hex) to the principal ``key``; labels are unique among its unrevoked keys."""
        checked = _build(pubkey=parse_pubkey(pubkey), label=label, not_before=not_before, not_after=not_after)
        keys = self._m.collection(_KIND)

        def run(t: Any) -> CryptosignKey:
            principal = cast(Principal, self.get(key, t))
            record = dataclasses.replace(checked, principal_oid=principal.oid, created=now_ns())
            held = cast(CryptosignKey | None, keys.table[t, record.pubkey])
            if held is not None:
                raise AlreadyExists(_held(held, principal, t, self))
            if label is not None and any(k.label == label for k in _live(keys, t, principal)):
                raise AlreadyExists(f"label: principal {principal.authid!r} already has a key labelled {label!r}; "
                                    "revoke it first or choose another label")
            keys.table[t, record.pubkey] = record
            self._m.changed(t, keys.kind, "created", record)
            return record

        return self._m.write(txn, run)

    def revoke_key(self, key: Any, which: str, txn: Any = None) -> CryptosignKey:
        """Revoke the principal's key given by its public key or its label; its other keys stay as they are."""
        if not isinstance(which, str) or not which:
            raise InvalidArgument("key: expected a public key (hex) or a label")
        keys = self._m.collection(_KIND)

        def run(t: Any) -> CryptosignKey:
            principal = cast(Principal, self.get(key, t))
            old = _find(keys, t, principal, which)
            record = dataclasses.replace(old, revoked=now_ns())
            keys.table[t, record.pubkey] = record
            self._m.changed(t, keys.kind, "updated", record, old)
            return record

        return self._m.write(txn, run)

    def keys(self, key: Any, txn: Any = None) -> list[CryptosignKey]:
        """The principal's keys (revoked ones included), oldest first."""
        # Attached before the transaction: a table first opened inside a read transaction is not usable in it.
        present = _has_keys(self._m)
        with self._m.transaction(txn) as t:
            principal = cast(Principal, self.get(key, t))
            if not present:
                return []
            found = list(_all(self._m.collection(_KIND), t, principal))
        return sorted(found, key=lambda k: (k.created, k.pubkey))

    def keys_summary(self, key: Any, txn: Any = None) -> list[dict[str, Any]]:
        """[{"authmethod": "cryptosign", "created", "modified"}] if the principal has keys, as credentials() lists."""
        found = self.keys(key, txn)
        if not found:
            return []
        return [{"authmethod": "cryptosign", "created": min(k.created for k in found),
                 "modified": max(max(k.created, k.revoked or 0) for k in found)}]


def _build(**fields: Any) -> CryptosignKey:
    """The key as given, checked before any transaction begins."""
    return CryptosignKey.parse({**{k: v for k, v in fields.items() if v is not None}, "principal_oid": _NO_PRINCIPAL})


def _has_keys(m: Owner) -> bool:
    """False on a read-only database written before keys existed (the table is then missing)."""
    try:
        m.collection(_KIND).table
    except orm.SchemaError:
        return False
    return True


def _all(keys: Any, txn: Any, principal: Principal) -> Iterator[CryptosignKey]:
    return cast(Iterator[CryptosignKey], keys.referring(txn, "principal_oid", principal.oid))


def _live(keys: Any, txn: Any, principal: Principal) -> Iterator[CryptosignKey]:
    return (k for k in _all(keys, txn, principal) if k.revoked is None)


def _find(keys: Any, txn: Any, principal: Principal, which: str) -> CryptosignKey:
    try:
        pubkey = parse_pubkey(which)
    except InvalidArgument:
        pubkey = None
    if pubkey is not None:
        record = cast(CryptosignKey | None, keys.table[txn, pubkey])
        if record is None or record.principal_oid != principal.oid:
            raise NotFound(f"key: principal {principal.authid!r} has no key {pubkey}")
        if record.revoked is not None:
            raise InvalidArgument(f"key: {pubkey} of {principal.authid!r} is already revoked")
        return record
    labelled = [k for k in _live(keys, txn, principal) if k.label == which]
    if not labelled:
        raise NotFound(f"key: principal {principal.authid!r} has no unrevoked key labelled {which!r} "
                       "(give its label or its public key)")
    return labelled[0]


def _held(held: CryptosignKey, principal: Principal, txn: Any, coll: Any) -> str:
    if held.principal_oid == principal.oid:
        what = "revoked" if held.revoked is not None else "added"
        return f"pubkey: {held.pubkey} is already {what} for principal {principal.authid!r}" + (
            "; a revoked key cannot be added again" if held.revoked is not None else "")
    owner = coll.find(held.principal_oid, txn)
    name = repr(owner.authid) if owner is not None else str(held.principal_oid)
    return f"pubkey: {held.pubkey} already belongs to principal {name}; a key identifies one principal"
