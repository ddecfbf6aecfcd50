"""GlobalSchema: the domain-wide tables of a management backend.

Slots by area (main table / its indexes at +100):
  20-24 users and authentication        120-124
  25-29 organizations                   125-129
  30-34 management realms               130-134
  35-39 nodes and usage metering        135-139
"""

from __future__ import annotations

from typing import Any

import orm

from cfxstore.globalschema.entities import (
    ActivationToken,
    ManagementRealm,
    Node,
    Organization,
    UsageRecord,
    User,
    UserMrealmRole,
    UserOrganizationRole,
    email_key,
)
from cfxstore.tables import DeclaredSchema, index, stored, unique

__all__ = ["GlobalSchema"]


def _pairing(node: Node) -> tuple[Any, Any] | None:
    # Null until the node is paired with a management realm.
    return (node.mrealm_oid, node.authid) if node.paired else None


class GlobalSchema(DeclaredSchema):
    """Users, organizations, management realms, nodes and their relations."""

    # -- users and authentication (20-24, 120-124)
    users = stored(
        20, User,
        unique("idx_users_by_email", 120, "email", key=lambda u: email_key(u.email)),
        unique("idx_users_by_pubkey", 121, "pubkey"),
    )
    activation_tokens = stored(
        21, ActivationToken,
        # Non-unique: every login attempt issues a fresh token (new code, new
        # expiry) while earlier ones for the same (email, pubkey) may still be
        # pending or kept for audit; a unique index would force deleting them.
        index("idx_activation_tokens_by_email_pubkey", 122, "email", "pubkey",
              key=lambda t: (email_key(t.email), t.pubkey)),
        # Lets expired tokens be purged by a range scan instead of a full scan.
        index("idx_activation_tokens_by_created", 123, "created"),
    )

    # -- organizations (25-29, 125-129)
    organizations = stored(25, Organization, unique("idx_organizations_by_name", 125, "name"))
    # Keyed (user_oid, org_oid): a user's organizations are one prefix scan;
    # the index is the reverse direction, an organization's members.
    user_org_roles = stored(26, UserOrganizationRole, index("idx_user_org_roles_by_org", 126, "org_oid"),
                            key=("user_oid", "org_oid"))

    # -- management realms (30-34, 130-134)
    mrealms = stored(
        30, ManagementRealm,
        unique("idx_mrealms_by_name", 130, "name"),
        index("idx_mrealms_by_owner", 131, "owner"),
    )
    user_mrealm_roles = stored(31, UserMrealmRole, index("idx_user_mrealm_roles_by_mrealm", 132, "mrealm_oid"),
                               key=("user_oid", "mrealm_oid"))

    # -- nodes and usage metering (35-39, 135-139)
    nodes = stored(
        35, Node,
        unique("idx_nodes_by_pubkey", 135, "pubkey"),
        unique("idx_nodes_by_authid", 136, "mrealm_oid", "authid", key=_pairing),
        index("idx_nodes_by_owner", 137, "owner_oid"),
    )
    # Keyed (timestamp, oid): billing reads time ranges.
    usage = stored(36, UsageRecord, index("idx_usage_by_mrealm", 138, "mrealm_oid", "timestamp"),
                   key=("timestamp", "oid"))

    idx_users_by_email: orm.Map
    idx_users_by_pubkey: orm.Map
    idx_activation_tokens_by_email_pubkey: orm.SetMap
    idx_activation_tokens_by_created: orm.SetMap
    idx_organizations_by_name: orm.Map
    idx_user_org_roles_by_org: orm.SetMap
    idx_mrealms_by_name: orm.Map
    idx_mrealms_by_owner: orm.SetMap
    idx_user_mrealm_roles_by_mrealm: orm.SetMap
    idx_nodes_by_pubkey: orm.Map
    idx_nodes_by_authid: orm.Map
    idx_nodes_by_owner: orm.SetMap
    idx_usage_by_mrealm: orm.SetMap
