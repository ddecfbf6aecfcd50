"""Records of the global (domain-wide) database: users, organizations,
management realms, nodes, activation tokens, role grants and usage."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import uuid
from typing import Any, ClassVar

from cfxstore.entity import Entity, require_choice, require_ns, require_str, require_type, require_uuid
from cfxstore.errors import InvalidArgument
from cfxstore.timeutil import now_ns

__all__ = [
    "USER_ROLES", "ORGANIZATION_TYPES", "ACTIVATION_TYPES", "ACTIVATION_STATUSES",
    "email_key", "require_name", "require_pubkey", "require_tags", "require_counters",
    "require_roles", "require_email",
    "Described", "User", "ActivationToken", "Organization", "UserOrganizationRole",
    "ManagementRealm", "UserMrealmRole", "Node", "UsageRecord",
]

# Strings rather than the small ints cfxdb uses: stored data stays readable
# with any CBOR tool and adding a role never renumbers the others.
USER_ROLES = ("owner", "admin", "user", "guest")
ORGANIZATION_TYPES = ("individual", "business", "academic", "nonprofit")
ACTIVATION_TYPES = ("registration", "login", "pairing")
ACTIVATION_STATUSES = ("pending", "active", "expired", "revoked")

_MAX_NAME = 255
_NAME_BAD = re.compile(r"[\s\x00-\x1f\x7f]")
_PUBKEY = re.compile(r"^[0-9a-f]{64}$")


# --- field helpers shared by the global and management-realm records ---

def email_key(email: str) -> str:
    """The form under which emails are indexed: users type them in any case."""
    return email.strip().lower()


def require_name(owner: str, name: str, value: Any, optional: bool = False) -> None:
    """A name users type and look up: 1..255 chars, no whitespace or control chars."""
    require_str(owner, name, value, optional)
    if value is None:
        return
    if len(value) > _MAX_NAME:
        raise InvalidArgument(f"{owner}.{name}: at most {_MAX_NAME} characters, got {len(value)}")
    if _NAME_BAD.search(value):
        raise InvalidArgument(f"{owner}.{name}: must not contain whitespace or control characters, got {value!r}")


def require_pubkey(owner: str, name: str, value: Any, optional: bool = False) -> None:
    """An Ed25519 public key as 64 lowercase hex characters (the WAMP-cryptosign form)."""
    require_str(owner, name, value, optional)
    if value is not None and not _PUBKEY.match(value):
        raise InvalidArgument(f"{owner}.{name}: expected 64 lowercase hex characters, got {value!r}")


def require_tags(owner: str, name: str, value: Any) -> None:
    require_type(owner, name, value, list, optional=True)
    for tag in value or ():
        require_str(owner, name, tag)


def require_counters(owner: str, name: str, value: Any) -> None:
    require_type(owner, name, value, dict)
    for key, count in value.items():
        require_str(owner, f"{name} key", key)
        require_type(owner, f"{name}[{key!r}]", count, (int, float))


def require_roles(owner: str, name: str, value: Any) -> None:
    require_type(owner, name, value, list)
    if not value:
        raise InvalidArgument(f"{owner}.{name}: must grant at least one role")
    for role in value:
        require_choice(owner, name, role, USER_ROLES)
    if len(set(value)) != len(value):
        raise InvalidArgument(f"{owner}.{name}: duplicate roles in {value!r}")


def require_email(owner: str, name: str, value: Any) -> None:
    require_str(owner, name, value)
    local, at, domain = value.partition("@")
    if not at or not local or not domain or _NAME_BAD.search(value) or len(value) > 254:
        raise InvalidArgument(f"{owner}.{name}: expected an email address, got {value!r}")


@dataclasses.dataclass(kw_only=True)
class Described(Entity):
    """Free-form labelling that every configuration object carries."""

    label: str | None = None
    description: str | None = None
    tags: list[str] | None = None

    def validate(self) -> None:
        owner = type(self).__name__
        require_str(owner, "label", self.label, optional=True, nonempty=False)
        require_str(owner, "description", self.description, optional=True, nonempty=False)
        require_tags(owner, "tags", self.tags)


# --- users and authentication ---

@dataclasses.dataclass(kw_only=True)
class User(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    email: str
    registered: int = dataclasses.field(default_factory=now_ns)
    pubkey: str | None = None

    def validate(self) -> None:
        super().validate()
        require_uuid("User", "oid", self.oid)
        require_email("User", "email", self.email)
        require_ns("User", "registered", self.registered)
        require_pubkey("User", "pubkey", self.pubkey, optional=True)


@dataclasses.dataclass(kw_only=True)
class ActivationToken(Entity):
    """A pending proof that the holder of ``email`` controls ``pubkey``.

    Only a SHA-256 of the emailed code is kept: a leaked database must not
    let anyone complete someone else's activation.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    atype: str
    status: str = "pending"
    created: int = dataclasses.field(default_factory=now_ns)
    completed: int | None = None
    code_hash: bytes
    email: str
    pubkey: str

    CODE_HASH_SIZE: ClassVar[int] = 32

    @staticmethod
    def hash_code(code: str) -> bytes:
        return hashlib.sha256(code.encode("utf-8")).digest()

    def code_matches(self, code: str) -> bool:
        """Constant-time comparison of a submitted code with the stored hash."""
        return hmac.compare_digest(self.code_hash, self.hash_code(code))

    def validate(self) -> None:
        require_uuid("ActivationToken", "oid", self.oid)
        require_choice("ActivationToken", "atype", self.atype, ACTIVATION_TYPES)
        require_choice("ActivationToken", "status", self.status, ACTIVATION_STATUSES)
        require_ns("ActivationToken", "created", self.created)
        require_ns("ActivationToken", "completed", self.completed, optional=True)
        require_type("ActivationToken", "code_hash", self.code_hash, bytes)
        if len(self.code_hash) != self.CODE_HASH_SIZE:
            raise InvalidArgument(f"ActivationToken.code_hash: expected {self.CODE_HASH_SIZE} bytes, "
                                  f"got {len(self.code_hash)}")
        require_email("ActivationToken", "email", self.email)
        require_pubkey("ActivationToken", "pubkey", self.pubkey)


# --- organizations ---

@dataclasses.dataclass(kw_only=True)
class Organization(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    otype: str = "individual"
    registered: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        super().validate()
        require_uuid("Organization", "oid", self.oid)
        require_name("Organization", "name", self.name)
        require_choice("Organization", "otype", self.otype, ORGANIZATION_TYPES)
        require_ns("Organization", "registered", self.registered)


@dataclasses.dataclass(kw_only=True)
class UserOrganizationRole(Entity):
    """The roles a user holds in an organization; stored under (user_oid, org_oid)."""

    user_oid: uuid.UUID
    org_oid: uuid.UUID
    roles: list[str]
    granted: int = dataclasses.field(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.user_oid, self.org_oid)

    def validate(self) -> None:
        require_uuid("UserOrganizationRole", "user_oid", self.user_oid)
        require_uuid("UserOrganizationRole", "org_oid", self.org_oid)
        require_roles("UserOrganizationRole", "roles", self.roles)
        require_ns("UserOrganizationRole", "granted", self.granted)


# --- management realms ---

@dataclasses.dataclass(kw_only=True)
class ManagementRealm(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    created: int = dataclasses.field(default_factory=now_ns)
    owner: uuid.UUID
    cf_router_worker: str | None = None
    cf_container_worker: str | None = None

    def validate(self) -> None:
        super().validate()
        require_uuid("ManagementRealm", "oid", self.oid)
        require_name("ManagementRealm", "name", self.name)
        require_ns("ManagementRealm", "created", self.created)
        require_uuid("ManagementRealm", "owner", self.owner)
        require_str("ManagementRealm", "cf_router_worker", self.cf_router_worker, optional=True)
        require_str("ManagementRealm", "cf_container_worker", self.cf_container_worker, optional=True)


@dataclasses.dataclass(kw_only=True)
class UserMrealmRole(Entity):
    """The roles a user holds on a management realm; stored under (user_oid, mrealm_oid)."""

    user_oid: uuid.UUID
    mrealm_oid: uuid.UUID
    roles: list[str]
    granted: int = dataclasses.field(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.user_oid, self.mrealm_oid)

    def validate(self) -> None:
        require_uuid("UserMrealmRole", "user_oid", self.user_oid)
        require_uuid("UserMrealmRole", "mrealm_oid", self.mrealm_oid)
        require_roles("UserMrealmRole", "roles", self.roles)
        require_ns("UserMrealmRole", "granted", self.granted)


# --- nodes and usage ---

@dataclasses.dataclass(kw_only=True)
class Node(Described):
    """A Crossbar node known by its public key; paired when it has an mrealm and authid."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    pubkey: str
    owner_oid: uuid.UUID | None = None
    mrealm_oid: uuid.UUID | None = None
    authid: str | None = None
    authextra: dict[str, Any] | None = None
    cluster_ip: str | None = None

    @property
    def paired(self) -> bool:
        return self.mrealm_oid is not None and self.authid is not None

    def validate(self) -> None:
        super().validate()
        require_uuid("Node", "oid", self.oid)
        require_pubkey("Node", "pubkey", self.pubkey)
        require_uuid("Node", "owner_oid", self.owner_oid, optional=True)
        require_uuid("Node", "mrealm_oid", self.mrealm_oid, optional=True)
        require_name("Node", "authid", self.authid, optional=True)
        # Half a pairing would make the (mrealm, authid) index silently skip the node.
        if (self.mrealm_oid is None) != (self.authid is None):
            raise InvalidArgument("Node: mrealm_oid and authid must be set together (paired) or both be None")
        require_type("Node", "authextra", self.authextra, dict, optional=True)
        require_str("Node", "cluster_ip", self.cluster_ip, optional=True)


@dataclasses.dataclass(kw_only=True)
class UsageRecord(Entity):
    """Metered usage of one management realm over [timestamp_from, timestamp)."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    timestamp: int
    timestamp_from: int
    mrealm_oid: uuid.UUID
    pubkey: str | None = None
    status: str = "received"
    status_message: str | None = None
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.timestamp, self.oid)

    def validate(self) -> None:
        require_uuid("UsageRecord", "oid", self.oid)
        require_ns("UsageRecord", "timestamp", self.timestamp)
        require_ns("UsageRecord", "timestamp_from", self.timestamp_from)
        if self.timestamp_from > self.timestamp:
            raise InvalidArgument("UsageRecord: timestamp_from must not be after timestamp")
        require_uuid("UsageRecord", "mrealm_oid", self.mrealm_oid)
        require_pubkey("UsageRecord", "pubkey", self.pubkey, optional=True)
        require_choice("UsageRecord", "status", self.status, ("received", "processed", "failed"))
        require_str("UsageRecord", "status_message", self.status_message, optional=True)
        require_counters("UsageRecord", "counters", self.counters)
