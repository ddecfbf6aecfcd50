"""GlobalSchema: the domain-wide tables of a management backend.

Slots by area (main table / its indexes at +100):
  20-24 users and authentication        120-124
  25-29 organizations                   125-129
  30-34 management realms               130-134
  35-39 nodes and usage metering        135-139
"""

from __future__ import annotations

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

__all__ = ["GlobalSchema"]


class GlobalSchema(orm.Schema):
    """Users, organizations, management realms, nodes and their relations."""

    users: orm.Map
    activation_tokens: orm.Map
    organizations: orm.Map
    user_org_roles: orm.Map
    mrealms: orm.Map
    user_mrealm_roles: orm.Map
    nodes: orm.Map
    usage: orm.Map

    def attach(self, db: orm.Database) -> None:
        # -- users and authentication (20-24, 120-124)
        self.users = orm.Map(20, key="uuid", value="cbor", marshal=User.marshal, unmarshal=User.parse)
        self.activation_tokens = orm.Map(
            21, key="uuid", value="cbor", marshal=ActivationToken.marshal, unmarshal=ActivationToken.parse
        )
        self.idx_users_by_email = orm.Map(120, key="str", value="uuid")
        self.idx_users_by_pubkey = orm.Map(121, key="str", value="uuid")
        # Non-unique: every login attempt issues a fresh token (new code, new
        # expiry) while earlier ones for the same (email, pubkey) may still be
        # pending or kept for audit; a unique index would force deleting them.
        self.idx_activation_tokens_by_email_pubkey = orm.SetMap(122, key=("str", "str"), member="uuid")
        # Lets expired tokens be purged by a range scan instead of a full scan.
        self.idx_activation_tokens_by_created = orm.SetMap(123, key="timestamp", member="uuid")

        self.users.attach_index("idx_users_by_email", self.idx_users_by_email, lambda u: email_key(u.email))
        self.users.attach_index("idx_users_by_pubkey", self.idx_users_by_pubkey, lambda u: u.pubkey, nullable=True)
        self.activation_tokens.attach_index(
            "idx_activation_tokens_by_email_pubkey",
            self.idx_activation_tokens_by_email_pubkey,
            lambda t: (email_key(t.email), t.pubkey),
            unique=False,
        )
        self.activation_tokens.attach_index(
            "idx_activation_tokens_by_created", self.idx_activation_tokens_by_created, lambda t: t.created, unique=False
        )

        # -- organizations (25-29, 125-129)
        self.organizations = orm.Map(
            25, key="uuid", value="cbor", marshal=Organization.marshal, unmarshal=Organization.parse
        )
        # Keyed (user_oid, org_oid): a user's organizations are one prefix scan.
        self.user_org_roles = orm.Map(
            26, key=("uuid", "uuid"), value="cbor",
            marshal=UserOrganizationRole.marshal, unmarshal=UserOrganizationRole.parse,
        )
        self.idx_organizations_by_name = orm.Map(125, key="str", value="uuid")
        # The reverse direction: an organization's members.
        self.idx_user_org_roles_by_org = orm.SetMap(126, key="uuid", member=("uuid", "uuid"))

        self.organizations.attach_index("idx_organizations_by_name", self.idx_organizations_by_name, lambda o: o.name)
        self.user_org_roles.attach_index(
            "idx_user_org_roles_by_org", self.idx_user_org_roles_by_org, lambda r: r.org_oid, unique=False
        )

        # -- management realms (30-34, 130-134)
        self.mrealms = orm.Map(
            30, key="uuid", value="cbor", marshal=ManagementRealm.marshal, unmarshal=ManagementRealm.parse
        )
        self.user_mrealm_roles = orm.Map(
            31, key=("uuid", "uuid"), value="cbor",
            marshal=UserMrealmRole.marshal, unmarshal=UserMrealmRole.parse,
        )
        self.idx_mrealms_by_name = orm.Map(130, key="str", value="uuid")
        self.idx_mrealms_by_owner = orm.SetMap(131, key="uuid", member="uuid")
        self.idx_user_mrealm_roles_by_mrealm = orm.SetMap(132, key="uuid", member=("uuid", "uuid"))

        self.mrealms.attach_index("idx_mrealms_by_name", self.idx_mrealms_by_name, lambda m: m.name)
        self.mrealms.attach_index("idx_mrealms_by_owner", self.idx_mrealms_by_owner, lambda m: m.owner, unique=False)
        self.user_mrealm_roles.attach_index(
            "idx_user_mrealm_roles_by_mrealm", self.idx_user_mrealm_roles_by_mrealm, lambda r: r.mrealm_oid,
            unique=False,
        )

        # -- nodes and usage metering (35-39, 135-139)
        self.nodes = orm.Map(35, key="uuid", value="cbor", marshal=Node.marshal, unmarshal=Node.parse)
        # Keyed (timestamp, oid): billing reads time ranges.
        self.usage = orm.Map(
            36, key=("timestamp", "uuid"), value="cbor", marshal=UsageRecord.marshal, unmarshal=UsageRecord.parse
        )
        self.idx_nodes_by_pubkey = orm.Map(135, key="str", value="uuid")
        self.idx_nodes_by_authid = orm.Map(136, key=("uuid", "str"), value="uuid")
        self.idx_nodes_by_owner = orm.SetMap(137, key="uuid", member="uuid")
        self.idx_usage_by_mrealm = orm.SetMap(138, key=("uuid", "timestamp"), member=("timestamp", "uuid"))

        self.nodes.attach_index("idx_nodes_by_pubkey", self.idx_nodes_by_pubkey, lambda n: n.pubkey)
        # Null until the node is paired with a management realm.
        self.nodes.attach_index(
            "idx_nodes_by_authid", self.idx_nodes_by_authid,
            lambda n: (n.mrealm_oid, n.authid) if n.paired else None, nullable=True,
        )
        self.nodes.attach_index(
            "idx_nodes_by_owner", self.idx_nodes_by_owner, lambda n: n.owner_oid, unique=False, nullable=True
        )
        self.usage.attach_index(
            "idx_usage_by_mrealm", self.idx_usage_by_mrealm, lambda u: (u.mrealm_oid, u.timestamp), unique=False
        )
