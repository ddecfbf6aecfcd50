"""Invariants that span record kinds, declared once and kept by the owner of the records they start from.

Delete rules between managed kinds (refuse, cascade) are declared on the
referring record fields (cfxstore.fields.Reference) and derived into each
Kind's references (kinds.py). What those cannot say is declared here: each
Relation names the kind it starts from, the records it reaches, the
operations that set it off and what it does. Management runs every relation
of a kind inside the transaction of the change that sets it off (``check``
ones before anything is written), so a change and what it implies commit or
abort together, whichever path made the change: the CLI, the management
API, ``router adopt``, the cfxdb import.

tests/management/test_relations.py tests each relation declared here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, cast

from cfxstore.entity import Entity
from cfxstore.errors import InUse, InvalidArgument
from cfxstore.management.owner import Owner
from cfxstore.mrealm.entities import ApplicationRealm, Credential, CryptosignKey, Principal, Role

__all__ = ["Relation", "RELATIONS", "CHECK", "AFTER"]

#: When a relation runs: before the change is written (it may refuse it) or after (in the same transaction).
CHECK, AFTER = "check", "after"

#: enforce(management, txn, old record or None, new record or None)
Enforce = Callable[[Owner, Any, Any, Any], None]


@dataclasses.dataclass(frozen=True)
class Relation:
    """Records of kind ``reaches`` depend on a ``kind`` record as ``rule`` says."""

    kind: str
    reaches: str
    rule: str
    #: The operations on the ``kind`` record that set it off: "created", "updated", "deleted".
    on: frozenset[str]
    when: str
    enforce: Enforce


def _end_logins(m: Owner, txn: Any, old: Principal, new: Principal | None) -> None:
    m.cookies.end_logins(txn, old.authid, old.realm)


def _key_ends_logins(m: Owner, txn: Any, old: CryptosignKey, new: CryptosignKey) -> None:
    if new.revoked == old.revoked:
        return
    principal = cast(Principal | None, m.principals.table[txn, old.principal_oid])
    if principal is not None:
        m.cookies.end_logins(txn, principal.authid, principal.realm)


def _credentials_follow(m: Owner, txn: Any, old: Principal, new: Principal) -> None:
    if (old.realm, old.authid) == (new.realm, new.authid):
        return
    creds = m.collection("credential")
    for cred in list(cast(Any, creds.referring(txn, "principal_oid", new.oid))):
        cred = cast(Credential, cred)
        creds.table[txn, cred.oid] = dataclasses.replace(cred, realm=new.realm, authid=new.authid)


def _names_match_links(m: Owner, txn: Any, old: Principal | None, new: Principal) -> None:
    for link, coll, name in (("role_oid", m.roles, "role"), ("arealm_oid", m.arealms, "realm")):
        oid = getattr(new, link)
        if oid is not None:
            linked = coll.table[txn, oid]
            if linked.name != getattr(new, name):
                raise InvalidArgument(f"principal.{name}: {getattr(new, name)!r} differs from the name "
                                      f"{linked.name!r} of the {coll.kind.name} in {link}")


def _no_rename_under_principals(link: str) -> Enforce:
    def check(m: Owner, txn: Any, old: Role | ApplicationRealm, new: Role | ApplicationRealm) -> None:
        if old.name == new.name:
            return
        linked = cast(Principal | None, next(m.principals.referring(txn, link, old.oid), None))
        if linked is not None:
            raise InUse(f"{link.removesuffix('_oid')} {old.name!r} cannot be renamed while principal "
                        f"{linked.authid!r} ({link}) is linked to it; change or unlink the principal first")
    return check


_CHANGED = frozenset({"updated", "deleted"})

RELATIONS: tuple[Relation, ...] = (
    Relation("principal", "cookie", "a principal's logins end (its cookies are deleted, and router nodes "
             "close their connections) when it is deleted, changed or disabled or its secrets change",
             _CHANGED, AFTER, _end_logins),
    Relation("cryptosign_key", "cookie", "a principal's logins end when one of its cryptosign keys is revoked",
             frozenset({"updated"}), AFTER, _key_ends_logins),
    Relation("principal", "credential", "a principal's credentials carry its realm and authid",
             frozenset({"updated"}), AFTER, _credentials_follow),
    Relation("principal", "role", "a principal linked to a role or realm record carries its name",
             frozenset({"created", "updated"}), CHECK, _names_match_links),
    Relation("role", "principal", "a role cannot be renamed while a principal links to it",
             frozenset({"updated"}), CHECK, _no_rename_under_principals("role_oid")),
    Relation("arealm", "principal", "a realm cannot be renamed while a principal links to it",
             frozenset({"updated"}), CHECK, _no_rename_under_principals("arealm_oid")),
)


def run(m: Owner, txn: Any, kind: str, op: str, when: str, old: Entity | None, new: Entity | None) -> None:
    """Enforce the relations of ``kind`` set off by ``op`` at ``when`` (CHECK or AFTER) in txn."""
    for relation in RELATIONS:
        if relation.kind == kind and relation.when == when and op in relation.on:
            relation.enforce(m, txn, old, new)
