"""Records of one management realm: application realms and their
authorization, authentication principals and credentials, router and web
clusters, and node/worker heartbeat logs."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from cfxstore.entity import Entity, require_choice, require_ns, require_str, require_type, require_uuid
from cfxstore.errors import InvalidArgument
from cfxstore.globalschema.entities import Described, require_counters, require_name
from cfxstore.limits import MAX_AUTHID_BYTES, MAX_REALM_BYTES, MAX_ROLE_BYTES, require_bytes
from cfxstore.timeutil import now_ns

__all__ = [
    "RUN_STATUSES", "MATCH_TYPES", "URI_CHECK_LEVELS", "AUTH_METHODS", "WORKER_TYPES",
    "ApplicationRealm", "Role", "Permission", "ApplicationRealmRoleAssociation",
    "Principal", "Credential",
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


def _require_int(owner: str, name: str, value: Any, lo: int, hi: int | None = None, optional: bool = False) -> None:
    require_type(owner, name, value, int, optional)
    if value is None:
        return
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise InvalidArgument(f"{owner}.{name}: expected an int {bound}, got {value}")


def _require_bool(owner: str, name: str, value: Any, optional: bool = False) -> None:
    require_type(owner, name, value, bool, optional)


# --- application realms and authorization ---

@dataclasses.dataclass(kw_only=True)
class ApplicationRealm(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    status: str = "stopped"
    workergroup_oid: uuid.UUID | None = None
    webcluster_oid: uuid.UUID | None = None
    owner_oid: uuid.UUID | None = None
    changed: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        super().validate()
        require_uuid("ApplicationRealm", "oid", self.oid)
        require_name("ApplicationRealm", "name", self.name)
        require_choice("ApplicationRealm", "status", self.status, RUN_STATUSES)
        require_uuid("ApplicationRealm", "workergroup_oid", self.workergroup_oid, optional=True)
        require_uuid("ApplicationRealm", "webcluster_oid", self.webcluster_oid, optional=True)
        require_uuid("ApplicationRealm", "owner_oid", self.owner_oid, optional=True)
        require_ns("ApplicationRealm", "changed", self.changed)


@dataclasses.dataclass(kw_only=True)
class Role(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    created: int = dataclasses.field(default_factory=now_ns)
    owner_oid: uuid.UUID | None = None

    def validate(self) -> None:
        super().validate()
        require_uuid("Role", "oid", self.oid)
        require_name("Role", "name", self.name)
        require_ns("Role", "created", self.created)
        require_uuid("Role", "owner_oid", self.owner_oid, optional=True)


@dataclasses.dataclass(kw_only=True)
class Permission(Described):
    """What a role may do on a URI (pattern)."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    role_oid: uuid.UUID
    uri: str
    match: str = "exact"
    uri_check_level: str = "strict"
    allow_call: bool = False
    allow_register: bool = False
    allow_publish: bool = False
    allow_subscribe: bool = False
    disclose_caller: bool = False
    disclose_publisher: bool = False
    cache: bool = True
    created: int = dataclasses.field(default_factory=now_ns)
    owner_oid: uuid.UUID | None = None

    def validate(self) -> None:
        super().validate()
        require_uuid("Permission", "oid", self.oid)
        require_uuid("Permission", "role_oid", self.role_oid)
        # "" with match="prefix" is the catch-all rule, so empty is allowed.
        require_str("Permission", "uri", self.uri, nonempty=False)
        require_choice("Permission", "match", self.match, MATCH_TYPES)
        require_choice("Permission", "uri_check_level", self.uri_check_level, URI_CHECK_LEVELS)
        for name in ("allow_call", "allow_register", "allow_publish", "allow_subscribe",
                     "disclose_caller", "disclose_publisher", "cache"):
            _require_bool("Permission", name, getattr(self, name))
        require_ns("Permission", "created", self.created)
        require_uuid("Permission", "owner_oid", self.owner_oid, optional=True)


@dataclasses.dataclass(kw_only=True)
class ApplicationRealmRoleAssociation(Entity):
    """Role ``role_oid`` is in effect on realm ``arealm_oid``; stored under (arealm_oid, role_oid)."""

    arealm_oid: uuid.UUID
    role_oid: uuid.UUID
    created: int = dataclasses.field(default_factory=now_ns)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.arealm_oid, self.role_oid)

    def validate(self) -> None:
        require_uuid("ApplicationRealmRoleAssociation", "arealm_oid", self.arealm_oid)
        require_uuid("ApplicationRealmRoleAssociation", "role_oid", self.role_oid)
        require_ns("ApplicationRealmRoleAssociation", "created", self.created)


# --- authentication ---

@dataclasses.dataclass(kw_only=True)
class Principal(Described):
    """A WAMP identity ``authid`` on realm ``realm``, authenticated with role ``role``.

    ``realm`` and ``role`` are names (what the router sees); ``arealm_oid``
    and ``role_oid`` link to managed records when there are any.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    realm: str
    authid: str
    role: str
    extra: dict[str, Any] | None = None
    arealm_oid: uuid.UUID | None = None
    role_oid: uuid.UUID | None = None
    created: int = dataclasses.field(default_factory=now_ns)
    modified: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        super().validate()
        require_uuid("Principal", "oid", self.oid)
        require_name("Principal", "realm", self.realm)
        require_name("Principal", "authid", self.authid)
        require_name("Principal", "role", self.role)
        # Every path that stores a principal (services, management API, db load) keeps its
        # names within what the credential, cookie and session indexes can hold.
        require_bytes("Principal", "realm", self.realm, MAX_REALM_BYTES)
        require_bytes("Principal", "authid", self.authid, MAX_AUTHID_BYTES)
        require_bytes("Principal", "role", self.role, MAX_ROLE_BYTES)
        require_type("Principal", "extra", self.extra, dict, optional=True)
        require_uuid("Principal", "arealm_oid", self.arealm_oid, optional=True)
        require_uuid("Principal", "role_oid", self.role_oid, optional=True)
        require_ns("Principal", "created", self.created)
        require_ns("Principal", "modified", self.modified)


@dataclasses.dataclass(kw_only=True)
class Credential(Entity):
    """How ``authid`` on ``realm`` proves itself with ``authmethod``.

    ``authconfig`` holds derived material only (see the service); keys that
    name a plaintext secret are rejected so one cannot be stored by mistake.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    principal_oid: uuid.UUID
    authmethod: str
    realm: str
    authid: str
    authconfig: dict[str, Any] = dataclasses.field(default_factory=dict)
    created: int = dataclasses.field(default_factory=now_ns)
    modified: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        require_uuid("Credential", "oid", self.oid)
        require_uuid("Credential", "principal_oid", self.principal_oid)
        require_choice("Credential", "authmethod", self.authmethod, AUTH_METHODS)
        require_name("Credential", "realm", self.realm)
        require_name("Credential", "authid", self.authid)
        require_type("Credential", "authconfig", self.authconfig, dict)
        leaked = _PLAINTEXT_KEYS.intersection(self.authconfig)
        if leaked:
            raise InvalidArgument(f"Credential.authconfig: must not hold plaintext secrets, found {sorted(leaked)}")
        require_ns("Credential", "created", self.created)
        require_ns("Credential", "modified", self.modified)


# --- router clusters ---

@dataclasses.dataclass(kw_only=True)
class RouterCluster(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    status: str = "stopped"
    owner_oid: uuid.UUID | None = None
    changed: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        super().validate()
        require_uuid("RouterCluster", "oid", self.oid)
        require_name("RouterCluster", "name", self.name)
        require_choice("RouterCluster", "status", self.status, RUN_STATUSES)
        require_uuid("RouterCluster", "owner_oid", self.owner_oid, optional=True)
        require_ns("RouterCluster", "changed", self.changed)


@dataclasses.dataclass(kw_only=True)
class RouterClusterNodeMembership(Entity):
    """Node ``node_oid`` serves router cluster ``cluster_oid``; stored under (cluster_oid, node_oid)."""

    cluster_oid: uuid.UUID
    node_oid: uuid.UUID
    softlimit: int | None = None
    hardlimit: int | None = None

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.cluster_oid, self.node_oid)

    def validate(self) -> None:
        require_uuid("RouterClusterNodeMembership", "cluster_oid", self.cluster_oid)
        require_uuid("RouterClusterNodeMembership", "node_oid", self.node_oid)
        _require_int("RouterClusterNodeMembership", "softlimit", self.softlimit, 0, optional=True)
        _require_int("RouterClusterNodeMembership", "hardlimit", self.hardlimit, 0, optional=True)
        if self.softlimit is not None and self.hardlimit is not None and self.softlimit > self.hardlimit:
            raise InvalidArgument("RouterClusterNodeMembership: softlimit must not exceed hardlimit")


@dataclasses.dataclass(kw_only=True)
class RouterWorkerGroup(Described):
    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    cluster_oid: uuid.UUID
    name: str
    scale: int = 1
    status: str = "stopped"
    changed: int = dataclasses.field(default_factory=now_ns)

    def validate(self) -> None:
        super().validate()
        require_uuid("RouterWorkerGroup", "oid", self.oid)
        require_uuid("RouterWorkerGroup", "cluster_oid", self.cluster_oid)
        require_name("RouterWorkerGroup", "name", self.name)
        _require_int("RouterWorkerGroup", "scale", self.scale, 1)
        require_choice("RouterWorkerGroup", "status", self.status, RUN_STATUSES)
        require_ns("RouterWorkerGroup", "changed", self.changed)


@dataclasses.dataclass(kw_only=True)
class RouterWorkerGroupPlacement(Entity):
    """One router worker of a worker group, placed on a cluster node."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    worker_group_oid: uuid.UUID
    cluster_oid: uuid.UUID
    node_oid: uuid.UUID
    worker_name: str
    status: str = "stopped"
    changed: int = dataclasses.field(default_factory=now_ns)
    tcp_listening_port: int | None = None

    def validate(self) -> None:
        require_uuid("RouterWorkerGroupPlacement", "oid", self.oid)
        require_uuid("RouterWorkerGroupPlacement", "worker_group_oid", self.worker_group_oid)
        require_uuid("RouterWorkerGroupPlacement", "cluster_oid", self.cluster_oid)
        require_uuid("RouterWorkerGroupPlacement", "node_oid", self.node_oid)
        require_name("RouterWorkerGroupPlacement", "worker_name", self.worker_name)
        require_choice("RouterWorkerGroupPlacement", "status", self.status, RUN_STATUSES)
        require_ns("RouterWorkerGroupPlacement", "changed", self.changed)
        _require_int("RouterWorkerGroupPlacement", "tcp_listening_port", self.tcp_listening_port, 1, 65535,
                     optional=True)


# --- web clusters ---

@dataclasses.dataclass(kw_only=True)
class WebCluster(Described):
    """A set of nodes serving the same web services behind one listening endpoint.

    TLS fields name files (key, certificates) on the nodes; key material is
    never stored in the database.
    """

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str
    status: str = "stopped"
    owner_oid: uuid.UUID | None = None
    changed: int = dataclasses.field(default_factory=now_ns)
    tcp_version: int = 4
    tcp_port: int = 8080
    tcp_shared: bool = True
    tcp_interface: str | None = None
    tcp_backlog: int | None = None
    tls_key: str | None = None
    tls_certificate: str | None = None
    tls_chain_certificates: list[str] | None = None
    tls_ca_certificates: list[str] | None = None
    tls_dhparam: str | None = None
    tls_ciphers: str | None = None
    http_client_timeout: int | None = None
    http_hsts: bool = False
    http_hsts_max_age: int | None = None
    http_access_log: bool = False
    http_display_tracebacks: bool = False

    def validate(self) -> None:
        super().validate()
        o = "WebCluster"
        require_uuid(o, "oid", self.oid)
        require_name(o, "name", self.name)
        require_choice(o, "status", self.status, RUN_STATUSES)
        require_uuid(o, "owner_oid", self.owner_oid, optional=True)
        require_ns(o, "changed", self.changed)
        require_choice(o, "tcp_version", self.tcp_version, (4, 6))
        _require_int(o, "tcp_port", self.tcp_port, 1, 65535)
        _require_bool(o, "tcp_shared", self.tcp_shared)
        require_str(o, "tcp_interface", self.tcp_interface, optional=True)
        _require_int(o, "tcp_backlog", self.tcp_backlog, 1, optional=True)
        for name in ("tls_key", "tls_certificate", "tls_dhparam", "tls_ciphers"):
            require_str(o, name, getattr(self, name), optional=True)
        if self.tls_key is not None and "PRIVATE KEY" in self.tls_key:
            raise InvalidArgument("WebCluster.tls_key: expected a file name, got key material")
        for name in ("tls_chain_certificates", "tls_ca_certificates"):
            value = getattr(self, name)
            require_type(o, name, value, list, optional=True)
            for item in value or ():
                require_str(o, name, item)
        _require_int(o, "http_client_timeout", self.http_client_timeout, 1, optional=True)
        _require_bool(o, "http_hsts", self.http_hsts)
        _require_int(o, "http_hsts_max_age", self.http_hsts_max_age, 0, optional=True)
        _require_bool(o, "http_access_log", self.http_access_log)
        _require_bool(o, "http_display_tracebacks", self.http_display_tracebacks)


@dataclasses.dataclass(kw_only=True)
class WebClusterNodeMembership(Entity):
    """Node ``node_oid`` serves web cluster ``cluster_oid``; stored under (cluster_oid, node_oid)."""

    cluster_oid: uuid.UUID
    node_oid: uuid.UUID
    parallel: int = 1
    standby: bool = False

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.cluster_oid, self.node_oid)

    def validate(self) -> None:
        require_uuid("WebClusterNodeMembership", "cluster_oid", self.cluster_oid)
        require_uuid("WebClusterNodeMembership", "node_oid", self.node_oid)
        _require_int("WebClusterNodeMembership", "parallel", self.parallel, 1)
        _require_bool("WebClusterNodeMembership", "standby", self.standby)


@dataclasses.dataclass(kw_only=True)
class WebService(Described):
    """A web service mounted at ``path`` of a web cluster; ``config`` is type specific."""

    oid: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    webcluster_oid: uuid.UUID
    path: str
    service_type: str
    config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        require_uuid("WebService", "oid", self.oid)
        require_uuid("WebService", "webcluster_oid", self.webcluster_oid)
        require_name("WebService", "path", self.path)
        require_name("WebService", "service_type", self.service_type)
        require_type("WebService", "config", self.config, dict)


# --- heartbeat logs ---

@dataclasses.dataclass(kw_only=True)
class NodeLog(Entity):
    """A node heartbeat: state plus resource counters for [timestamp - period, timestamp)."""

    timestamp: int
    node_oid: uuid.UUID
    mrealm_oid: uuid.UUID | None = None
    period: int = 0
    state: str = "running"
    session: int | None = None
    sent: int | None = None
    seq: int = 0
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.timestamp, self.node_oid)

    def validate(self) -> None:
        require_ns("NodeLog", "timestamp", self.timestamp)
        require_uuid("NodeLog", "node_oid", self.node_oid)
        require_uuid("NodeLog", "mrealm_oid", self.mrealm_oid, optional=True)
        _require_int("NodeLog", "period", self.period, 0)
        require_choice("NodeLog", "state", self.state, RUN_STATUSES)
        _require_int("NodeLog", "session", self.session, 0, optional=True)
        require_ns("NodeLog", "sent", self.sent, optional=True)
        _require_int("NodeLog", "seq", self.seq, 0)
        require_counters("NodeLog", "counters", self.counters)


@dataclasses.dataclass(kw_only=True)
class WorkerLog(Entity):
    """A worker heartbeat of worker ``worker_id`` on node ``node_oid``."""

    timestamp: int
    node_oid: uuid.UUID
    worker_id: str
    mrealm_oid: uuid.UUID | None = None
    worker_type: str = "router"
    period: int = 0
    state: str = "running"
    sent: int | None = None
    seq: int = 0
    counters: dict[str, int | float] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> tuple[int, uuid.UUID, str]:
        return (self.timestamp, self.node_oid, self.worker_id)

    def validate(self) -> None:
        require_ns("WorkerLog", "timestamp", self.timestamp)
        require_uuid("WorkerLog", "node_oid", self.node_oid)
        require_name("WorkerLog", "worker_id", self.worker_id)
        require_uuid("WorkerLog", "mrealm_oid", self.mrealm_oid, optional=True)
        require_choice("WorkerLog", "worker_type", self.worker_type, WORKER_TYPES)
        _require_int("WorkerLog", "period", self.period, 0)
        require_choice("WorkerLog", "state", self.state, RUN_STATUSES)
        require_ns("WorkerLog", "sent", self.sent, optional=True)
        _require_int("WorkerLog", "seq", self.seq, 0)
        require_counters("WorkerLog", "counters", self.counters)
