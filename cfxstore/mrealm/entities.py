"""Records of one management realm: application realms and their
authorization, authentication principals and credentials, router and web
clusters, and node/worker heartbeat logs."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from cfxstore.entity import Entity
from cfxstore.errors import InvalidArgument
from cfxstore.fields import CASCADE, REFUSE, Reference, field, name_field, pubkey_field, time
from cfxstore.globalschema.entities import Described
from cfxstore.limits import MAX_AUTHID_BYTES, MAX_REALM_BYTES, MAX_ROLE_BYTES
from cfxstore.timeutil import now_ns

__all__ = [
    "RUN_STATUSES", "MATCH_TYPES", "URI_CHECK_LEVELS", "AUTH_METHODS", "WORKER_TYPES",
    "ApplicationRealm", "Role", "Permission", "ApplicationRealmRoleAssociation",
    "Principal", "Credential", "CryptosignKey",
    "RouterCluster", "RouterClusterNodeMembership", "RouterWorkerGroup", "RouterWorkerGroupPlacement",
    "WebCluster", "WebClusterNodeMembership", "WebService",
    "NodeLog", "WorkerLog",
]

RUN_STATUSES = ("stopped", "starting", "running", "paused", "stopping", "error")
MATCH_TYPES = ("exact", "prefix", "wildcard")
URI_CHECK_LEVELS = ("strict", "loose")
AUTH_METHODS = ("ticket", "wampcra", "cryptosign", "scram", "tls")
WORKER_TYPES = ("controller", "router", "container", "guest", "proxy", "marketmaker", "hostmonitor")

# Keys a credential's authconfig must never hold: only derived forms
# (argon2id hashes, PBKDF2 keys, public keys) are stored.
_PLAINTEXT_KEYS = frozenset({"secret", "password", "ticket", "plaintext"})


def _derived_only(authconfig: dict[str, Any]) -> str | None:
    """derived material only: no plaintext secret keys"""
    leaked = _PLAINTEXT_KEYS.intersection(authconfig)
    return f"must not hold plaintext secrets, found {sorted(leaked)}" if leaked else None


def _file_name_only(tls_key: str) -> str | None:
    """a file name, not key material"""
    return "expected a file name, got key material" if "PRIVATE KEY" in tls_key else None


# --- application realms and authorization ---

@dataclasses.dataclass(kw_only=True)
class ApplicationRealm(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    status: str = field(default="stopped", choices=RUN_STATUSES)
    workergroup_oid: uuid.UUID | None = field(default=None, ref=Reference("router_workergroup", REFUSE))
    webcluster_oid: uuid.UUID | None = field(default=None, ref=Reference("webcluster", REFUSE))
    owner_oid: uuid.UUID | None = None
    changed: int = time(default_factory=now_ns)


@dataclasses.dataclass(kw_only=True)
class Role(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    created: int = time(default_factory=now_ns)
    owner_oid: uuid.UUID | None = None


@dataclasses.dataclass(kw_only=True)
class Permission(Described):
    """What a role may do on a URI (pattern)."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    role_oid: uuid.UUID = field(ref=Reference("role", CASCADE))
    # "" with match="prefix" is the catch-all rule, so empty is allowed.
    uri: str = field(empty=True)
    match: str = field(default="exact", choices=MATCH_TYPES)
    uri_check_level: str = field(default="strict", choices=URI_CHECK_LEVELS)
    allow_call: bool = False
    allow_register: bool = False
    allow_publish: bool = False
    allow_subscribe: bool = False
    disclose_caller: bool = False
    disclose_publisher: bool = False
    cache: bool = True
    created: int = time(default_factory=now_ns)
    owner_oid: uuid.UUID | None = None


@dataclasses.dataclass(kw_only=True)
class ApplicationRealmRoleAssociation(Entity):
    """Role ``role_oid`` is in effect on realm ``arealm_oid``; stored under (arealm_oid, role_oid)."""

    arealm_oid: uuid.UUID = field(ref=Reference("arealm", CASCADE))
    role_oid: uuid.UUID = field(ref=Reference("role", REFUSE))
    created: int = time(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.arealm_oid, self.role_oid)


# --- authentication ---

@dataclasses.dataclass(kw_only=True)
class Principal(Described):
    """A WAMP identity ``authid`` on realm ``realm``, authenticated with role ``role``.

    ``realm`` and ``role`` are names (what the router sees); ``arealm_oid``
    and ``role_oid`` link to managed records when there are any.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    # Every path that stores a principal (services, management API, db load) keeps its
    # names within what the credential, cookie and session indexes can hold.
    realm: str = name_field(max_bytes=MAX_REALM_BYTES)
    authid: str = name_field(max_bytes=MAX_AUTHID_BYTES)
    role: str = name_field(max_bytes=MAX_ROLE_BYTES)
    extra: dict[str, Any] | None = None
    arealm_oid: uuid.UUID | None = field(default=None, ref=Reference("arealm", REFUSE))
    role_oid: uuid.UUID | None = field(default=None, ref=Reference("role", REFUSE))
    created: int = time(default_factory=now_ns)
    modified: int = time(default_factory=now_ns)
    #: When it was disabled; a disabled principal's logins are refused like wrong secrets.
    disabled: int | None = time(default=None, later=True)


@dataclasses.dataclass(kw_only=True)
class Credential(Entity):
    """How ``authid`` on ``realm`` proves itself with ``authmethod``.

    ``authconfig`` holds derived material only (see the service); keys that
    name a plaintext secret are rejected so one cannot be stored by mistake.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    principal_oid: uuid.UUID = field(ref=Reference("principal", CASCADE))
    authmethod: str = field(choices=AUTH_METHODS)
    realm: str = name_field()
    authid: str = name_field()
    authconfig: dict[str, Any] = field(default_factory=dict, rule=_derived_only, secret=True)
    created: int = time(default_factory=now_ns)
    modified: int = time(default_factory=now_ns)


@dataclasses.dataclass(kw_only=True)
class CryptosignKey(Entity):
    """An Ed25519 public key principal ``principal_oid`` logs in with (WAMP-cryptosign); stored under ``pubkey``.

    A key is usable from ``not_before`` (inclusive) to ``not_after`` (exclusive), either open, until it
    is ``revoked``. A revoked key is kept, so the same key is never accepted again.
    """

    pubkey: str = pubkey_field()
    principal_oid: uuid.UUID = field(ref=Reference("principal", CASCADE))
    label: str | None = field(default=None, max_chars=255)
    not_before: int | None = time(default=None)
    not_after: int | None = time(default=None)
    revoked: int | None = time(default=None)
    created: int = time(default_factory=now_ns)

    @property
    def key(self) -> str:
        return self.pubkey

    def validate(self) -> None:
        super().validate()
        if self.not_before is not None and self.not_after is not None and self.not_after <= self.not_before:
            raise InvalidArgument("CryptosignKey.not_after: must be later than not_before")

    def usable(self, now: int) -> bool:
        """Whether the key may log in at ``now`` (int ns)."""
        return (self.revoked is None and (self.not_before is None or self.not_before <= now)
                and (self.not_after is None or now < self.not_after))


# --- router clusters ---

@dataclasses.dataclass(kw_only=True)
class RouterCluster(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    status: str = field(default="stopped", choices=RUN_STATUSES)
    owner_oid: uuid.UUID | None = None
    changed: int = time(default_factory=now_ns)


@dataclasses.dataclass(kw_only=True)
class RouterClusterNodeMembership(Entity):
    """Node ``node_oid`` serves router cluster ``cluster_oid``; stored under (cluster_oid, node_oid)."""

    cluster_oid: uuid.UUID = field(ref=Reference("routercluster", CASCADE))
    node_oid: uuid.UUID = field(ref=Reference("node", REFUSE))
    softlimit: int | None = field(default=None, min=0)
    hardlimit: int | None = field(default=None, min=0)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.cluster_oid, self.node_oid)

    def validate(self) -> None:
        super().validate()
        if self.softlimit is not None and self.hardlimit is not None and self.softlimit > self.hardlimit:
            raise InvalidArgument("RouterClusterNodeMembership: softlimit must not exceed hardlimit")


@dataclasses.dataclass(kw_only=True)
class RouterWorkerGroup(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    cluster_oid: uuid.UUID = field(ref=Reference("routercluster", REFUSE))
    name: str = name_field()
    scale: int = field(default=1, min=1)
    status: str = field(default="stopped", choices=RUN_STATUSES)
    changed: int = time(default_factory=now_ns)


@dataclasses.dataclass(kw_only=True)
class RouterWorkerGroupPlacement(Entity):
    """One router worker of a worker group, placed on a cluster node."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    worker_group_oid: uuid.UUID
    cluster_oid: uuid.UUID
    node_oid: uuid.UUID
    worker_name: str = name_field()
    status: str = field(default="stopped", choices=RUN_STATUSES)
    changed: int = time(default_factory=now_ns)
    tcp_listening_port: int | None = field(default=None, min=1, max=65535)


# --- web clusters ---

@dataclasses.dataclass(kw_only=True)
class WebCluster(Described):
    """A set of nodes serving the same web services behind one listening endpoint.

    TLS fields name files (key, certificates) on the nodes; key material is
    never stored in the database.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = name_field()
    status: str = field(default="stopped", choices=RUN_STATUSES)
    owner_oid: uuid.UUID | None = None
    changed: int = time(default_factory=now_ns)
    tcp_version: int = field(default=4, choices=(4, 6))
    tcp_port: int = field(default=8080, min=1, max=65535)
    tcp_shared: bool = True
    tcp_interface: str | None = None
    tcp_backlog: int | None = field(default=None, min=1)
    tls_key: str | None = field(default=None, rule=_file_name_only)
    tls_certificate: str | None = None
    tls_chain_certificates: list[str] | None = None
    tls_ca_certificates: list[str] | None = None
    tls_dhparam: str | None = None
    tls_ciphers: str | None = None
    http_client_timeout: int | None = field(default=None, min=1)
    http_hsts: bool = False
    http_hsts_max_age: int | None = field(default=None, min=0)
    http_access_log: bool = False
    http_display_tracebacks: bool = False


@dataclasses.dataclass(kw_only=True)
class WebClusterNodeMembership(Entity):
    """Node ``node_oid`` serves web cluster ``cluster_oid``; stored under (cluster_oid, node_oid)."""

    cluster_oid: uuid.UUID = field(ref=Reference("webcluster", CASCADE))
    node_oid: uuid.UUID = field(ref=Reference("node", REFUSE))
    parallel: int = field(default=1, min=1)
    standby: bool = False

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.cluster_oid, self.node_oid)


@dataclasses.dataclass(kw_only=True)
class WebService(Described):
    """A web service mounted at ``path`` of a web cluster; ``config`` is type specific."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    webcluster_oid: uuid.UUID = field(ref=Reference("webcluster", CASCADE))
    path: str = name_field()
    service_type: str = name_field()
    config: dict[str, Any] = dataclasses.field(default_factory=dict)


# --- heartbeat logs ---

@dataclasses.dataclass(kw_only=True)
class NodeLog(Entity):
    """A node heartbeat: state plus resource counters for [timestamp - period, timestamp)."""

    timestamp: int = time()
    node_oid: uuid.UUID
    mrealm_oid: uuid.UUID | None = None
    period: int = field(default=0, min=0)
    state: str = field(default="running", choices=RUN_STATUSES)
    session: int | None = field(default=None, min=0)
    sent: int | None = time(default=None)
    seq: int = field(default=0, min=0)
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.timestamp, self.node_oid)


@dataclasses.dataclass(kw_only=True)
class WorkerLog(Entity):
    """A worker heartbeat of worker ``worker_id`` on node ``node_oid``."""

    timestamp: int = time()
    node_oid: uuid.UUID
    worker_id: str = name_field()
    mrealm_oid: uuid.UUID | None = None
    worker_type: str = field(default="router", choices=WORKER_TYPES)
    period: int = field(default=0, min=0)
    state: str = field(default="running", choices=RUN_STATUSES)
    sent: int | None = time(default=None)
    seq: int = field(default=0, min=0)
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID, str]:
        return (self.timestamp, self.node_oid, self.worker_id)
