"""What the management services manage: one Kind per record type.

A Kind names a declared table (cfxstore.tables) and says how the management
services treat it (default list order, whether it matters to authorization,
whether it is offered for create/update). Everything else is derived from
the declarations of the table and its record fields:

* the primary key fields, and the unique indexes with the fields they hold;
* the references fields make to other kinds, with the rule applied when the
  referenced record is deleted:

  * ``refuse``  - the delete fails with InUse while such records exist;
  * ``cascade`` - they are deleted with it (and their own rules apply);

* the filters a listing accepts: the first primary key field of a composite
  key, the field of a non-unique index, the leading field of a composite
  unique index.

The services (store.py) derive validation of references, integrity on
delete, uniqueness errors, filters and pagination from these.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from cfxstore.entity import Entity
from cfxstore.fields import CASCADE, REFUSE, declared_fields
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.mrealm.schema import CryptosignKeySchema, MrealmSchema
from cfxstore.tables import Stored

__all__ = ["Ref", "Unique", "Filter", "Kind", "KINDS", "REFUSE", "CASCADE"]


@dataclasses.dataclass(frozen=True)
class Ref:
    """Field ``field`` holds the key of a ``target`` record (or None)."""

    field: str
    target: str
    on_delete: str


@dataclasses.dataclass(frozen=True)
class Unique:
    """A unique index; ``key`` computes the index key from a record (None: not indexed)."""

    index: str
    label: str
    key: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class Filter:
    """How to find records by the value of one field.

    ``how`` is "pk" (the field is the first part of the primary key),
    "set" (a non-unique index named ``index``) or "unique" (a unique index
    named ``index`` whose key starts with the field).
    """

    how: str
    index: str | None = None


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    stored: Stored
    #: A unique index on a name giving the default list order (else primary key order).
    order: str | None = None
    #: Changes to these records change what the store-backed authorizer answers.
    authz: bool = False
    #: Kept consistent by the services (integrity) but not offered for create/update.
    internal: bool = False
    #: Its changes enter the change feed; internal kinds' only when they say so (credentials never).
    published: bool | None = None

    @property
    def in_feed(self) -> bool:
        return not self.internal if self.published is None else self.published

    @property
    def schema(self) -> type:
        """The schema class declaring the kind's table (GlobalSchema, MrealmSchema, ...)."""
        assert self.stored.schema is not None  # set when the schema class declared the table
        return self.stored.schema

    @property
    def entity(self) -> type[Entity]:
        assert self.stored.record is not None  # kinds are declared only on record tables
        return self.stored.record

    @property
    def table(self) -> str:
        return self.stored.name

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self.stored.key_fields

    @property
    def unique(self) -> tuple[Unique, ...]:
        return _derived(self)[0]

    @property
    def refs(self) -> tuple[Ref, ...]:
        return _derived(self)[1]

    @property
    def filters(self) -> dict[str, Filter]:
        return _derived(self)[2]

    @property
    def immutable(self) -> frozenset[str]:
        return frozenset(self.key_fields) | {"created", "registered"}

    def key_of(self, record: Any) -> Any:
        if len(self.key_fields) == 1:
            return getattr(record, self.key_fields[0])
        return tuple(getattr(record, f) for f in self.key_fields)


_DERIVED: dict[str, tuple[tuple[Unique, ...], tuple[Ref, ...], dict[str, Filter]]] = {}


def _derived(kind: Kind) -> tuple[tuple[Unique, ...], tuple[Ref, ...], dict[str, Filter]]:
    """(unique indexes, references, filters) of kind, derived once from its declarations."""
    found = _DERIVED.get(kind.name)
    if found is None:
        decl = kind.stored
        unique = tuple(Unique(i.name, i.label, decl.index_key(i)) for i in decl.indexes if i.unique)
        refs = tuple(Ref(f.name, f.spec.ref.target, f.spec.ref.on_delete)
                     for f in declared_fields(kind.entity).values() if f.spec.ref is not None)
        filters: dict[str, Filter] = {}
        if len(decl.key_fields) > 1:
            filters[decl.key_fields[0]] = Filter("pk")
        for i in decl.indexes:
            if not i.unique and len(i.on) == 1:
                filters.setdefault(i.on[0], Filter("set", i.name))
            elif i.unique and len(i.on) > 1:
                filters.setdefault(i.on[0], Filter("unique", i.name))
        found = _DERIVED[kind.name] = (unique, refs, filters)
    return found


G, M = GlobalSchema, MrealmSchema

_KINDS = [
    # --- global database ---
    Kind("user", G.users),
    Kind("organization", G.organizations, order="idx_organizations_by_name"),
    Kind("organization_role", G.user_org_roles),
    Kind("mrealm", G.mrealms, order="idx_mrealms_by_name"),
    Kind("mrealm_role", G.user_mrealm_roles),
    Kind("node", G.nodes),
    # --- management realm database ---
    Kind("arealm", M.arealms, authz=True, order="idx_arealms_by_name"),
    Kind("role", M.roles, authz=True, order="idx_roles_by_name"),
    Kind("permission", M.permissions, authz=True),
    Kind("arealm_role", M.arealm_role_associations, authz=True),
    Kind("principal", M.principals, order="idx_principals_by_realm_authid"),
    Kind("credential", M.credentials, internal=True),
    # Written by the principals' owner (add_key, revoke_key); public keys, so their changes are published.
    Kind("cryptosign_key", CryptosignKeySchema.cryptosign_keys, internal=True, published=True),
    Kind("routercluster", M.routerclusters, order="idx_routerclusters_by_name"),
    Kind("routercluster_node", M.routercluster_node_memberships),
    Kind("router_workergroup", M.router_workergroups, internal=True),
    Kind("webcluster", M.webclusters, order="idx_webclusters_by_name"),
    Kind("webcluster_node", M.webcluster_node_memberships),
    Kind("webservice", M.webservices, internal=True),
]

#: Every kind by name.
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
