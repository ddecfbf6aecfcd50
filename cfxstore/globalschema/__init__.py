"""The global (domain-wide) database: users, organizations, management realms, nodes."""

from cfxstore.globalschema.entities import (
    ActivationToken,
    ManagementRealm,
    Node,
    Organization,
    UsageRecord,
    User,
    UserMrealmRole,
    UserOrganizationRole,
)
from cfxstore.globalschema.schema import GlobalSchema

__all__ = [
    "GlobalSchema",
    "User",
    "ActivationToken",
    "Organization",
    "UserOrganizationRole",
    "ManagementRealm",
    "UserMrealmRole",
    "Node",
    "UsageRecord",
]
