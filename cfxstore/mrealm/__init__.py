"""The database of one management realm: application realms, authorization,
principals and credentials, router/web clusters and heartbeat logs."""

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
from cfxstore.mrealm.schema import MrealmSchema

__all__ = [
    "MrealmSchema",
    "ApplicationRealm",
    "Role",
    "Permission",
    "ApplicationRealmRoleAssociation",
    "Principal",
    "Credential",
    "RouterCluster",
    "RouterClusterNodeMembership",
    "RouterWorkerGroup",
    "RouterWorkerGroupPlacement",
    "WebCluster",
    "WebClusterNodeMembership",
    "WebService",
    "NodeLog",
    "WorkerLog",
]
