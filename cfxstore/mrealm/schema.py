"""MrealmSchema: the tables of one management realm.

Slots by area (main tables / their indexes):
  40-44 application realms, roles, permissions     140-144
  45-49 principals and credentials                 145-149
  50-54 router clusters and worker groups          150-154
  55-59 web clusters and web services              155-159
  60-64 node and worker heartbeat logs             160-164
  65    the management change feed (cfxstore.management.feed.ChangeFeedSchema)
  66-69 reserved                                   165-179 reserved
"""

from __future__ import annotations

import orm

from cfxstore.entity import Entity
from cfxstore.mrealm.entities import (
    ApplicationRealm,
    ApplicationRealmRoleAssociation,
    Credential,
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

__all__ = ["MrealmSchema"]


def _cbor(slot: int, entity: type[Entity], key: object = "uuid") -> orm.Map:
    return orm.Map(slot, key=key, value="cbor", marshal=entity.marshal, unmarshal=entity.parse)


class MrealmSchema(orm.Schema):
    """Application realms, authorization, authentication and cluster configuration."""

    arealms: orm.Map
    roles: orm.Map
    permissions: orm.Map
    arealm_role_associations: orm.Map
    principals: orm.Map
    credentials: orm.Map
    routerclusters: orm.Map
    routercluster_node_memberships: orm.Map
    router_workergroups: orm.Map
    router_workergroup_placements: orm.Map
    webclusters: orm.Map
    webcluster_node_memberships: orm.Map
    webservices: orm.Map
    node_logs: orm.Map
    worker_logs: orm.Map

    def attach(self, db: orm.Database) -> None:
        # -- application realms, roles, permissions (40-44, 140-144)
        self.arealms = _cbor(40, ApplicationRealm)
        self.roles = _cbor(41, Role)
        self.permissions = _cbor(42, Permission)
        self.arealm_role_associations = _cbor(43, ApplicationRealmRoleAssociation, key=("uuid", "uuid"))
        self.idx_arealms_by_name = orm.Map(140, key="str", value="uuid")
        self.idx_arealms_by_webcluster = orm.SetMap(141, key="uuid", member="uuid")
        self.idx_roles_by_name = orm.Map(142, key="str", value="uuid")
        self.idx_permissions_by_uri = orm.Map(143, key=("uuid", "str"), value="uuid")
        # Associations are keyed (arealm, role); this answers "which realms use a role".
        self.idx_arealm_role_associations_by_role = orm.SetMap(144, key="uuid", member=("uuid", "uuid"))

        self.arealms.attach_index("idx_arealms_by_name", self.idx_arealms_by_name, lambda r: r.name)
        self.arealms.attach_index(
            "idx_arealms_by_webcluster", self.idx_arealms_by_webcluster, lambda r: r.webcluster_oid,
            unique=False, nullable=True,
        )
        self.roles.attach_index("idx_roles_by_name", self.idx_roles_by_name, lambda r: r.name)
        self.permissions.attach_index(
            "idx_permissions_by_uri", self.idx_permissions_by_uri, lambda p: (p.role_oid, p.uri)
        )
        self.arealm_role_associations.attach_index(
            "idx_arealm_role_associations_by_role", self.idx_arealm_role_associations_by_role,
            lambda a: a.role_oid, unique=False,
        )

        # -- principals and credentials (45-49, 145-149)
        self.principals = _cbor(45, Principal)
        self.credentials = _cbor(46, Credential)
        # Keyed by realm name, not arealm oid: the router authenticates by the
        # realm string in HELLO and may run without managed arealm records.
        self.idx_principals_by_realm_authid = orm.Map(145, key=("str", "str"), value="uuid")
        self.idx_credentials_by_auth = orm.Map(146, key=("str", "str", "str"), value="uuid")
        self.idx_credentials_by_principal = orm.SetMap(147, key="uuid", member="uuid")

        self.principals.attach_index(
            "idx_principals_by_realm_authid", self.idx_principals_by_realm_authid, lambda p: (p.realm, p.authid)
        )
        self.credentials.attach_index(
            "idx_credentials_by_auth", self.idx_credentials_by_auth, lambda c: (c.authmethod, c.realm, c.authid)
        )
        self.credentials.attach_index(
            "idx_credentials_by_principal", self.idx_credentials_by_principal, lambda c: c.principal_oid,
            unique=False,
        )

        # -- router clusters and worker groups (50-54, 150-154)
        self.routerclusters = _cbor(50, RouterCluster)
        self.routercluster_node_memberships = _cbor(51, RouterClusterNodeMembership, key=("uuid", "uuid"))
        self.router_workergroups = _cbor(52, RouterWorkerGroup)
        self.router_workergroup_placements = _cbor(53, RouterWorkerGroupPlacement)
        self.idx_routerclusters_by_name = orm.Map(150, key="str", value="uuid")
        self.idx_routercluster_node_memberships_by_node = orm.SetMap(151, key="uuid", member=("uuid", "uuid"))
        # Worker group names are unique within their cluster only.
        self.idx_workergroups_by_cluster_name = orm.Map(152, key=("uuid", "str"), value="uuid")
        self.idx_placements_by_worker = orm.Map(153, key=("uuid", "uuid", "uuid", "str"), value="uuid")
        self.idx_placements_by_cluster_node = orm.SetMap(154, key=("uuid", "uuid"), member="uuid")

        self.routerclusters.attach_index("idx_routerclusters_by_name", self.idx_routerclusters_by_name, lambda c: c.name)
        self.routercluster_node_memberships.attach_index(
            "idx_routercluster_node_memberships_by_node", self.idx_routercluster_node_memberships_by_node,
            lambda m: m.node_oid, unique=False,
        )
        self.router_workergroups.attach_index(
            "idx_workergroups_by_cluster_name", self.idx_workergroups_by_cluster_name, lambda g: (g.cluster_oid, g.name)
        )
        self.router_workergroup_placements.attach_index(
            "idx_placements_by_worker", self.idx_placements_by_worker,
            lambda p: (p.worker_group_oid, p.cluster_oid, p.node_oid, p.worker_name),
        )
        self.router_workergroup_placements.attach_index(
            "idx_placements_by_cluster_node", self.idx_placements_by_cluster_node,
            lambda p: (p.cluster_oid, p.node_oid), unique=False,
        )

        # -- web clusters and services (55-59, 155-159)
        self.webclusters = _cbor(55, WebCluster)
        self.webcluster_node_memberships = _cbor(56, WebClusterNodeMembership, key=("uuid", "uuid"))
        self.webservices = _cbor(57, WebService)
        self.idx_webclusters_by_name = orm.Map(155, key="str", value="uuid")
        self.idx_webcluster_node_memberships_by_node = orm.SetMap(156, key="uuid", member=("uuid", "uuid"))
        # Paths are unique within their web cluster; a prefix scan lists a cluster's services.
        self.idx_webservices_by_path = orm.Map(157, key=("uuid", "str"), value="uuid")

        self.webclusters.attach_index("idx_webclusters_by_name", self.idx_webclusters_by_name, lambda c: c.name)
        self.webcluster_node_memberships.attach_index(
            "idx_webcluster_node_memberships_by_node", self.idx_webcluster_node_memberships_by_node,
            lambda m: m.node_oid, unique=False,
        )
        self.webservices.attach_index(
            "idx_webservices_by_path", self.idx_webservices_by_path, lambda s: (s.webcluster_oid, s.path)
        )

        # -- heartbeat logs (60-64, 160-164): keyed by time first so purging
        # old logs and "everything in the last minute" are range scans.
        self.node_logs = _cbor(60, NodeLog, key=("timestamp", "uuid"))
        self.worker_logs = _cbor(61, WorkerLog, key=("timestamp", "uuid", "str"))
        # One node's / worker's history in time order without a full scan.
        self.idx_node_logs_by_node = orm.SetMap(160, key=("uuid", "timestamp"), member=("timestamp", "uuid"))
        self.idx_worker_logs_by_worker = orm.SetMap(
            161, key=("uuid", "str", "timestamp"), member=("timestamp", "uuid", "str")
        )

        self.node_logs.attach_index(
            "idx_node_logs_by_node", self.idx_node_logs_by_node, lambda g: (g.node_oid, g.timestamp), unique=False
        )
        self.worker_logs.attach_index(
            "idx_worker_logs_by_worker", self.idx_worker_logs_by_worker,
            lambda g: (g.node_oid, g.worker_id, g.timestamp), unique=False,
        )
