"""Records of the global (domain-wide) database: users, organizations,
management realms, nodes, activation tokens, role grants and usage."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from typing import Any

from cfxstore.entity import Entity
from cfxstore.errors import InvalidArgument
from cfxstore.fields import CASCADE, REFUSE, Reference, email_field, field, name_field, pubkey_field, time
from cfxstore.timeutil import now_ns

__all__ = [
    "USER_ROLES", "ORGANIZATION_TYPES", "ACTIVATION_TYPES", "ACTIVATION_STATUSES",
    "email_key", "roles_field",
    "Described", "User", "ActivationToken", "Organization", "UserOrganizationRole",
    "ManagementRealm", "UserMrealmRole", "Node", "UsageRecord",
]

# Strings rather than the small ints cfxdb uses: stored data stays readable
# with any CBOR tool and adding a role never renumbers the others.
USER_ROLES = ("owner", "admin", "user", "guest")
ORGANIZATION_TYPES = ("individual", "business", "academic", "nonprofit")
ACTIVATION_TYPES = ("registration", "login", "pairing")
ACTIVATION_STATUSES = ("pending", "active", "expired", "revoked")
#: An activation code is kept as its SHA-256 only.
CODE_HASH_SIZE = 32


def email_key(email: str) -> str:
    """The form under which emails are indexed: users type them in any case."""
    return email.strip().lower()


def _roles(value: list[str]) -> str | None:
    """at least one role, no duplicates"""
    if not value:
        return "must grant at least one role"
    if len(set(value)) != len(value):
        return f"duplicate roles in {value!r}"
    return None


def roles_field() -> Any:
    """A non-empty list of distinct USER_ROLES."""
    return field(choices=USER_ROLES, rule=_roles)


@dataclasses.dataclass(kw_only=True)
class Described(Entity):
    """Free-form labelling that every configuration object carries."""

    label: str | None = field(default=None, empty=True)
    description: str | None = field(default=None, empty=True)
    tags: list[str] | None = None


# --- users and authentication ---

@dataclasses.dataclass(kw_only=True)
class User(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    email: str = email_field()
    registered: int = time(default_factory=now_ns)
    pubkey: str | None = pubkey_field(default=None)


@dataclasses.dataclass(kw_only=True)
class ActivationToken(Entity):
    """A pending proof that the holder of ``email`` controls ``pubkey``.

    Only a SHA-256 of the emailed code is kept: a leaked database must not
    let anyone complete someone else's activation.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    atype: str = field(choices=ACTIVATION_TYPES)
    status: str = field(default="pending", choices=ACTIVATION_STATUSES)
    created: int = time(default_factory=now_ns)
    completed: int | None = time(default=None)
    code_hash: bytes = field(size=CODE_HASH_SIZE, secret=True)
    email: str = email_field()
    pubkey: str = pubkey_field()

    @staticmethod
    def hash_code(code: str) -> bytes:
        return hashlib.sha256(code.encode("utf-8")).digest()

    def code_matches(self, code: str) -> bool:
        """Constant-time comparison of a submitted code with the stored hash."""
        return hmac.compare_digest(self.code_hash, self.hash_code(code))


# --- organizations ---

@dataclasses.dataclass(kw_only=True)
class Organization(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    otype: str = field(default="individual", choices=ORGANIZATION_TYPES)
    registered: int = time(default_factory=now_ns)


@dataclasses.dataclass(kw_only=True)
class UserOrganizationRole(Entity):
    """The roles a user holds in an organization; stored under (user_oid, org_oid)."""

    user_oid: uuid.UUID = field(ref=Reference("user", CASCADE))
    org_oid: uuid.UUID = field(ref=Reference("organization", CASCADE))
    roles: list[str] = roles_field()
    granted: int = time(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.user_oid, self.org_oid)


# --- management realms ---

@dataclasses.dataclass(kw_only=True)
class ManagementRealm(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    created: int = time(default_factory=now_ns)
    owner: uuid.UUID = field(ref=Reference("user", REFUSE))
    cf_router_worker: str | None = None
    cf_container_worker: str | None = None


@dataclasses.dataclass(kw_only=True)
class UserMrealmRole(Entity):
    """The roles a user holds on a management realm; stored under (user_oid, mrealm_oid)."""

    user_oid: uuid.UUID = field(ref=Reference("user", CASCADE))
    mrealm_oid: uuid.UUID = field(ref=Reference("mrealm", CASCADE))
    roles: list[str] = roles_field()
    granted: int = time(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.user_oid, self.mrealm_oid)


# --- nodes and usage ---

@dataclasses.dataclass(kw_only=True)
class Node(Described):
    """A Crossbar node known by its public key; paired when it has an mrealm and authid."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    pubkey: str = pubkey_field()
    owner_oid: uuid.UUID | None = field(default=None, ref=Reference("user", REFUSE))
    mrealm_oid: uuid.UUID | None = field(default=None, ref=Reference("mrealm", REFUSE))
    authid: str | None = name_field(default=None)
    authextra: dict[str, Any] | None = None
    cluster_ip: str | None = None

    @property
    def paired(self) -> bool:
        return self.mrealm_oid is not None and self.authid is not None

    def validate(self) -> None:
        super().validate()
        # Half a pairing would make the (mrealm, authid) index silently skip the node.
        if (self.mrealm_oid is None) != (self.authid is None):
            raise InvalidArgument("Node: mrealm_oid and authid must be set together (paired) or both be None")


@dataclasses.dataclass(kw_only=True)
class UsageRecord(Entity):
    """Metered usage of one management realm over [timestamp_from, timestamp)."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    timestamp: int = time()
    timestamp_from: int = time()
    mrealm_oid: uuid.UUID
    pubkey: str | None = pubkey_field(default=None)
    status: str = field(default="received", choices=("received", "processed", "failed"))
    status_message: str | None = None
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.timestamp, self.oid)

    def validate(self) -> None:
        super().validate()
        if self.timestamp_from > self.timestamp:
            raise InvalidArgument("UsageRecord: timestamp_from must not be after timestamp")
