"""MrealmSchema: the tables of one management realm.

Slots by area (main tables / their indexes):
  40-44 application realms, roles, permissions     140-144
  45-49 principals and credentials                 145-149
        (47/148: cryptosign keys, CryptosignKeySchema)
  50-54 router clusters and worker groups          150-154
  55-59 web clusters and web services              155-159
  60-64 node and worker heartbeat logs             160-164
  65    the management change feed (cfxstore.management.feed.ChangeFeedSchema)
  66-69 reserved                                   165-179 reserved
"""

from __future__ import annotations

import orm

from cfxstore.mrealm.entities import (
    ApplicationRealm,
    ApplicationRealmRoleAssociation,
    Credential,
    CryptosignKey,
    NodeLog,
    Permission,
    Principal,
    Role,
    RouterCluster,
    RouterClusterNodeMembership,
    RouterWorkerGroup,
    RouterWorkerGroupPlacement,
    WebCluster,
    WebClusterNodeMembership,
    WebService,
    WorkerLog,
)
from cfxstore.tables import DeclaredSchema, index, stored, unique

__all__ = ["MrealmSchema", "CryptosignKeySchema"]


def _certificate(cred: Credential) -> tuple[str, str] | None:
    """(realm, "<kind>:<value>") of a TLS credential, whose one item is its certificate match.

    The router finds the principal of a client certificate under the keys
    cfxstore.credentials.tls.peer_keys makes (its fingerprints, its CN).
    """
    if cred.authmethod != "tls" or len(cred.authconfig) != 1:
        return None
    ((kind, value),) = cred.authconfig.items()
    return (cred.realm, f"{kind}:{value}")


class MrealmSchema(DeclaredSchema):
    """Application realms, authorization, authentication and cluster configuration."""

    # -- application realms, roles, permissions (40-44, 140-144)
    arealms = stored(
        40, ApplicationRealm,
        unique("idx_arealms_by_name", 140, "name"),
        index("idx_arealms_by_webcluster", 141, "webcluster_oid"),
    )
    roles = stored(41, Role, unique("idx_roles_by_name", 142, "name"))
    permissions = stored(42, Permission, unique("idx_permissions_by_uri", 143, "role_oid", "uri"))
    # Associations are keyed (arealm, role); the index answers "which realms use a role".
    arealm_role_associations = stored(
        43, ApplicationRealmRoleAssociation, index("idx_arealm_role_associations_by_role", 144, "role_oid"),
        key=("arealm_oid", "role_oid"),
    )

    # -- principals and credentials (45-49, 145-149)
    # Keyed by realm name, not arealm oid: the router authenticates by the
    # realm string in HELLO and may run without managed arealm records.
    principals = stored(45, Principal, unique("idx_principals_by_realm_authid", 145, "realm", "authid"))
    credentials = stored(
        46, Credential,
        unique("idx_credentials_by_auth", 146, "authmethod", "realm", "authid"),
        index("idx_credentials_by_principal", 147, "principal_oid"),
        unique("idx_credentials_by_certificate", 149, "realm", "authid", key=_certificate, nullable=True),
    )

    # -- router clusters and worker groups (50-54, 150-154)
    routerclusters = stored(50, RouterCluster, unique("idx_routerclusters_by_name", 150, "name"))
    routercluster_node_memberships = stored(
        51, RouterClusterNodeMembership, index("idx_routercluster_node_memberships_by_node", 151, "node_oid"),
        key=("cluster_oid", "node_oid"),
    )
    # Worker group names are unique within their cluster only.
    router_workergroups = stored(52, RouterWorkerGroup,
                                 unique("idx_workergroups_by_cluster_name", 152, "cluster_oid", "name"))
    router_workergroup_placements = stored(
        53, RouterWorkerGroupPlacement,
        unique("idx_placements_by_worker", 153, "worker_group_oid", "cluster_oid", "node_oid", "worker_name"),
        index("idx_placements_by_cluster_node", 154, "cluster_oid", "node_oid"),
    )

    # -- web clusters and services (55-59, 155-159)
    webclusters = stored(55, WebCluster, unique("idx_webclusters_by_name", 155, "name"))
    webcluster_node_memberships = stored(
        56, WebClusterNodeMembership, index("idx_webcluster_node_memberships_by_node", 156, "node_oid"),
        key=("cluster_oid", "node_oid"),
    )
    # Paths are unique within their web cluster; a prefix scan lists a cluster's services.
    webservices = stored(57, WebService, unique("idx_webservices_by_path", 157, "webcluster_oid", "path"))

    # -- heartbeat logs (60-64, 160-164): keyed by time first so purging
    # old logs and "everything in the last minute" are range scans; the
    # indexes give one node's / worker's history in time order.
    node_logs = stored(60, NodeLog, index("idx_node_logs_by_node", 160, "node_oid", "timestamp"),
                       key=("timestamp", "node_oid"))
    worker_logs = stored(61, WorkerLog,
                         index("idx_worker_logs_by_worker", 161, "node_oid", "worker_id", "timestamp"),
                         key=("timestamp", "node_oid", "worker_id"))

    idx_arealms_by_name: orm.Map
    idx_arealms_by_webcluster: orm.SetMap
    idx_roles_by_name: orm.Map
    idx_permissions_by_uri: orm.Map
    idx_arealm_role_associations_by_role: orm.SetMap
    idx_principals_by_realm_authid: orm.Map
    idx_credentials_by_auth: orm.Map
    idx_credentials_by_principal: orm.SetMap
    idx_credentials_by_certificate: orm.Map
    idx_routerclusters_by_name: orm.Map
    idx_routercluster_node_memberships_by_node: orm.SetMap
    idx_workergroups_by_cluster_name: orm.Map
    idx_placements_by_worker: orm.Map
    idx_placements_by_cluster_node: orm.SetMap
    idx_webclusters_by_name: orm.Map
    idx_webcluster_node_memberships_by_node: orm.SetMap
    idx_webservices_by_path: orm.Map
    idx_node_logs_by_node: orm.SetMap
    idx_worker_logs_by_worker: orm.SetMap


class CryptosignKeySchema(DeclaredSchema):
    """Principals' WAMP-cryptosign public keys: slots 47 and 148, in the range of MrealmSchema's principals.

    A schema of its own, like the change feed: it is created when first attached for writing, and
    read-only opens of a database written before it existed never need it (such a database has no keys).
    """

    # Keyed by the public key itself: a key belongs to one principal (as in Crossbar's static
    # "authorized_keys"), and a client that sends only its key is found with one read.
    cryptosign_keys = stored(47, CryptosignKey, index("idx_cryptosign_keys_by_principal", 148, "principal_oid"),
                             key="pubkey")

    idx_cryptosign_keys_by_principal: orm.SetMap
