"""What the management services manage, declared once: one Kind per record type.

A Kind names its table, its primary key, its unique names, how it can be
listed and filtered, and the references its fields make to other records
with the rule applied when the referenced record is deleted:

* ``refuse``  - the delete fails with InUse while such records exist;
* ``cascade`` - they are deleted with it (and their own rules apply).

The services (store.py) derive validation of references, integrity on
delete, uniqueness errors, filters and pagination from these declarations.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from cfxstore.entity import Entity
from cfxstore.globalschema.entities import (
    ManagementRealm, Node, Organization, User, UserMrealmRole, UserOrganizationRole, email_key,
)
from cfxstore.mrealm.entities import (
    ApplicationRealm, ApplicationRealmRoleAssociation, Credential, Permission, Principal, Role, RouterCluster,
    RouterClusterNodeMembership, RouterWorkerGroup, WebCluster, WebClusterNodeMembership, WebService,
)

__all__ = ["Ref", "Unique", "Filter", "Kind", "KINDS", "REFUSE", "CASCADE"]

REFUSE, CASCADE = "refuse", "cascade"


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
    entity: type[Entity]
    table: str
    key_fields: tuple[str, ...] = ("oid",)
    unique: tuple[Unique, ...] = ()
    refs: tuple[Ref, ...] = ()
    filters: dict[str, Filter] = dataclasses.field(default_factory=dict)
    #: A unique index on a name giving the default list order (else primary key order).
    order: str | None = None
    #: Changes to these records change what the store-backed authorizer answers.
    authz: bool = False
    #: Kept consistent by the services (integrity) but not offered for create/update.
    internal: bool = False
    #: "global" (GlobalSchema) or "mrealm" (MrealmSchema).
    schema: str = "mrealm"

    @property
    def immutable(self) -> frozenset[str]:
        return frozenset(self.key_fields) | {"created", "registered"}

    def key_of(self, record: Any) -> Any:
        if self.key_fields == ("oid",):
            return record.oid
        return tuple(getattr(record, f) for f in self.key_fields)


def _name(field: str = "name") -> Callable[[Any], Any]:
    return lambda r: getattr(r, field)


_KINDS = [
    # --- global database ---
    Kind("user", User, "users", schema="global",
         unique=(Unique("idx_users_by_email", "email", lambda u: email_key(u.email)),
                 Unique("idx_users_by_pubkey", "pubkey", lambda u: u.pubkey))),
    Kind("organization", Organization, "organizations", schema="global",
         unique=(Unique("idx_organizations_by_name", "name", _name()),), order="idx_organizations_by_name"),
    Kind("organization_role", UserOrganizationRole, "user_org_roles", schema="global",
         key_fields=("user_oid", "org_oid"),
         refs=(Ref("user_oid", "user", CASCADE), Ref("org_oid", "organization", CASCADE)),
         filters={"user_oid": Filter("pk"), "org_oid": Filter("set", "idx_user_org_roles_by_org")}),
    Kind("mrealm", ManagementRealm, "mrealms", schema="global",
         unique=(Unique("idx_mrealms_by_name", "name", _name()),),
         refs=(Ref("owner", "user", REFUSE),),
         filters={"owner": Filter("set", "idx_mrealms_by_owner")}, order="idx_mrealms_by_name"),
    Kind("mrealm_role", UserMrealmRole, "user_mrealm_roles", schema="global", key_fields=("user_oid", "mrealm_oid"),
         refs=(Ref("user_oid", "user", CASCADE), Ref("mrealm_oid", "mrealm", CASCADE)),
         filters={"user_oid": Filter("pk"), "mrealm_oid": Filter("set", "idx_user_mrealm_roles_by_mrealm")}),
    Kind("node", Node, "nodes", schema="global",
         unique=(Unique("idx_nodes_by_pubkey", "pubkey", _name("pubkey")),
                 Unique("idx_nodes_by_authid", "(mrealm_oid, authid)",
                        lambda n: (n.mrealm_oid, n.authid) if n.paired else None)),
         refs=(Ref("owner_oid", "user", REFUSE), Ref("mrealm_oid", "mrealm", REFUSE)),
         filters={"owner_oid": Filter("set", "idx_nodes_by_owner"),
                  "mrealm_oid": Filter("unique", "idx_nodes_by_authid")}),
    # --- management realm database ---
    Kind("arealm", ApplicationRealm, "arealms", authz=True,
         unique=(Unique("idx_arealms_by_name", "name", _name()),),
         refs=(Ref("webcluster_oid", "webcluster", REFUSE), Ref("workergroup_oid", "router_workergroup", REFUSE)),
         filters={"webcluster_oid": Filter("set", "idx_arealms_by_webcluster")}, order="idx_arealms_by_name"),
    Kind("role", Role, "roles", authz=True,
         unique=(Unique("idx_roles_by_name", "name", _name()),), order="idx_roles_by_name"),
    Kind("permission", Permission, "permissions", authz=True,
         unique=(Unique("idx_permissions_by_uri", "(role_oid, uri)", lambda p: (p.role_oid, p.uri)),),
         refs=(Ref("role_oid", "role", CASCADE),),
         filters={"role_oid": Filter("unique", "idx_permissions_by_uri")}),
    Kind("arealm_role", ApplicationRealmRoleAssociation, "arealm_role_associations", authz=True,
         key_fields=("arealm_oid", "role_oid"),
         refs=(Ref("arealm_oid", "arealm", CASCADE), Ref("role_oid", "role", REFUSE)),
         filters={"arealm_oid": Filter("pk"), "role_oid": Filter("set", "idx_arealm_role_associations_by_role")}),
    Kind("principal", Principal, "principals",
         unique=(Unique("idx_principals_by_realm_authid", "(realm, authid)", lambda p: (p.realm, p.authid)),),
         refs=(Ref("arealm_oid", "arealm", REFUSE), Ref("role_oid", "role", REFUSE)),
         filters={"realm": Filter("unique", "idx_principals_by_realm_authid")},
         order="idx_principals_by_realm_authid"),
    Kind("credential", Credential, "credentials", internal=True,
         refs=(Ref("principal_oid", "principal", CASCADE),),
         filters={"principal_oid": Filter("set", "idx_credentials_by_principal")}),
    Kind("routercluster", RouterCluster, "routerclusters",
         unique=(Unique("idx_routerclusters_by_name", "name", _name()),), order="idx_routerclusters_by_name"),
    Kind("routercluster_node", RouterClusterNodeMembership, "routercluster_node_memberships",
         key_fields=("cluster_oid", "node_oid"),
         refs=(Ref("cluster_oid", "routercluster", CASCADE), Ref("node_oid", "node", REFUSE)),
         filters={"cluster_oid": Filter("pk"),
                  "node_oid": Filter("set", "idx_routercluster_node_memberships_by_node")}),
    Kind("router_workergroup", RouterWorkerGroup, "router_workergroups", internal=True,
         refs=(Ref("cluster_oid", "routercluster", REFUSE),),
         filters={"cluster_oid": Filter("unique", "idx_workergroups_by_cluster_name")}),
    Kind("webcluster", WebCluster, "webclusters",
         unique=(Unique("idx_webclusters_by_name", "name", _name()),), order="idx_webclusters_by_name"),
    Kind("webcluster_node", WebClusterNodeMembership, "webcluster_node_memberships",
         key_fields=("cluster_oid", "node_oid"),
         refs=(Ref("cluster_oid", "webcluster", CASCADE), Ref("node_oid", "node", REFUSE)),
         filters={"cluster_oid": Filter("pk"), "node_oid": Filter("set", "idx_webcluster_node_memberships_by_node")}),
    Kind("webservice", WebService, "webservices", internal=True,
         refs=(Ref("webcluster_oid", "webcluster", CASCADE),),
         filters={"webcluster_oid": Filter("unique", "idx_webservices_by_path")}),
]

#: Every kind by name.
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
