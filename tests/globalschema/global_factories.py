"""Distinct, valid global-schema records: factory(n) differs from factory(m) in every unique field."""

import hashlib
import uuid

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

from table_contract import pk  # noqa: F401  (re-exported to the test modules)

T0 = 1_700_000_000_000_000_000


def oid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def pubkey(n: int) -> str:
    return hashlib.sha256(f"key-{n}".encode()).hexdigest()


def user(n: int = 1, **kw) -> User:
    return User(**{"oid": oid(1000 + n), "email": f"user{n}@example.com", "pubkey": pubkey(n),
                   "registered": T0 + n, **kw})


def activation_token(n: int = 1, **kw) -> ActivationToken:
    return ActivationToken(**{"oid": oid(2000 + n), "atype": "login", "created": T0 + n,
                              "code_hash": ActivationToken.hash_code(f"code-{n}"),
                              "email": f"user{n}@example.com", "pubkey": pubkey(n), **kw})


def organization(n: int = 1, **kw) -> Organization:
    return Organization(**{"oid": oid(3000 + n), "name": f"org-{n}", "registered": T0 + n, **kw})


def user_org_role(n: int = 1, **kw) -> UserOrganizationRole:
    return UserOrganizationRole(**{"user_oid": oid(1000 + n), "org_oid": oid(3000 + n), "roles": ["user"],
                                   "granted": T0 + n, **kw})


def mrealm(n: int = 1, **kw) -> ManagementRealm:
    return ManagementRealm(**{"oid": oid(4000 + n), "name": f"mrealm-{n}", "created": T0 + n,
                              "owner": oid(1000 + n), **kw})


def user_mrealm_role(n: int = 1, **kw) -> UserMrealmRole:
    return UserMrealmRole(**{"user_oid": oid(1000 + n), "mrealm_oid": oid(4000 + n), "roles": ["admin"],
                             "granted": T0 + n, **kw})


def node(n: int = 1, **kw) -> Node:
    return Node(**{"oid": oid(5000 + n), "pubkey": pubkey(100 + n), "owner_oid": oid(1000 + n),
                   "mrealm_oid": oid(4000 + n), "authid": f"node-{n}", **kw})


def usage(n: int = 1, **kw) -> UsageRecord:
    return UsageRecord(**{"oid": oid(6000 + n), "timestamp": T0 + 60 * n, "timestamp_from": T0 + 60 * (n - 1),
                          "mrealm_oid": oid(4000 + n), "counters": {"sessions": n}, **kw})


# table attribute -> factory
TABLES = {
    "users": user,
    "activation_tokens": activation_token,
    "organizations": organization,
    "user_org_roles": user_org_role,
    "mrealms": mrealm,
    "user_mrealm_roles": user_mrealm_role,
    "nodes": node,
    "usage": usage,
}
