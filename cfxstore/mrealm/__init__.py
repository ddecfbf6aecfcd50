"""The database of one management realm: application realms, authorization,
principals and credentials, router/web clusters and heartbeat logs."""

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
from cfxstore.mrealm.schema import CryptosignKeySchema, MrealmSchema

__all__ = [
    "MrealmSchema",
    "CryptosignKeySchema",
    "ApplicationRealm",
    "Role",
    "Permission",
    "ApplicationRealmRoleAssociation",
    "Principal",
    "Credential",
    "CryptosignKey",
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
