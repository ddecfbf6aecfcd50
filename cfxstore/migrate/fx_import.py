"""Importing Crossbar FX databases (cfxdb GlobalSchema / MrealmSchema) into cfxstore.

Each record is read with cfxdb's own class (``parse`` of the stored CBOR),
mapped field by field onto the cfxstore entity and validated; a record that
does not validate is skipped with the reason. Secrets are not stored as
read: activation codes become their SHA-256, principal tickets argon2id
hashes and WAMP-CRA secrets PBKDF2-derived keys (CredentialService); SCRAM
credentials, derived keys already, are checked and kept; cryptosign
``authorized_keys`` become one key record each.
Credentials are imported per method by the functions in CREDENTIAL_IMPORTS.
Records go in through the import ledger (import_ledger.py), so a re-run
imports only what is new and a kill followed by a re-run ends like one run.

Kinds imported: users, organizations, activation tokens, management
realms, user roles on management realms, nodes, usage records (controller
database); application realms, roles, permissions, role associations,
principals, credentials, router clusters and their node memberships, router
worker groups and their placements, web clusters and their node
memberships, web services, node logs and worker logs (management-realm
databases). Usage records and logs are FlatBuffers in cfxdb: they are read
with cfxdb's ``cast`` and their metrics become cfxstore counters.
"""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any, Callable

import cbor2

import orm
from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.entity import Entity
from cfxstore.errors import AlreadyExists, Error, InvalidArgument
from cfxstore.globalschema import entities as g
from cfxstore.globalschema.schema import GlobalSchema
from cfxstore.management import Management
from cfxstore.mrealm import entities as m
from cfxstore.mrealm.schema import MrealmSchema
from cfxstore.service import attached
from orm import crashpoint

from .cfxdb_import import TableResult, _ns
from .cfxdb_source import CfxdbSource
from .errors import ImportSourceError
from .import_ledger import Ledger, record_key

# cfxdb table ids (the @table UUIDs of cfxdb.globalschema / cfxdb.mrealmschema).
USERS = uuid.UUID("fa1ed0fc-304e-4f66-8092-d901df1735e4")
ORGANIZATIONS = uuid.UUID("ae2fe53f-f8ec-4484-8a8f-cabdf1b38358")
ACTIVATION_TOKENS = uuid.UUID("c968886e-a2e2-490c-bc2a-6b684c3130f6")
MREALMS = uuid.UUID("1219e71c-a62c-415a-bd15-ddf45e3a658b")
USER_MREALM_ROLES = uuid.UUID("eccdfc57-5632-4ad4-9c2b-2ac11e9d389f")
NODES = uuid.UUID("ae89d956-273a-4ce3-b63d-52b07ae35742")
USAGE = uuid.UUID("e38f7bf1-2514-400c-8c30-a979b2138503")
AREALMS = uuid.UUID("7099565b-7b44-4891-a0c8-83c7dbb60883")
PRINCIPALS = uuid.UUID("9808cb0b-1b55-4b3f-858e-39004cb11135")
CREDENTIALS = uuid.UUID("251c8620-425a-4eeb-ade9-4284e8670080")
ROLES = uuid.UUID("341083bb-edeb-461c-a6d4-38dddcda6ec9")
PERMISSIONS = uuid.UUID("f98ed35b-f8fb-47ba-81e1-3c014101464d")
AREALM_ROLES = uuid.UUID("5eabdb63-9c31-4c97-b514-7e8fbac7e143")
ROUTER_CLUSTERS = uuid.UUID("b054a230-c370-4c29-b5de-7e0148321b0a")
ROUTER_CLUSTER_MEMBERSHIPS = uuid.UUID("a091bad6-f14c-437c-8e30-e9be84380658")
WORKER_GROUPS = uuid.UUID("c019457b-d499-454f-9bf2-4f7e85079d8f")
PLACEMENTS = uuid.UUID("e3d326d2-6140-47a9-adf9-8e93b832717b")
WEB_CLUSTERS = uuid.UUID("719d029f-e9d5-4b25-98e0-cf04d5a2648b")
WEB_CLUSTER_MEMBERSHIPS = uuid.UUID("e9801077-a629-470b-a4c9-4292a1f00d43")
WEB_SERVICES = uuid.UUID("a8803ca3-09a0-4d72-8728-2469de8d50ac")
NODE_LOGS = uuid.UUID("256a071f-5aeb-47f3-8786-97cd8281bdb7")
WORKER_LOGS = uuid.UUID("5ceaa500-4832-451c-adf4-4fc4968cece0")
GLOBAL_TABLES = (USERS, ORGANIZATIONS, MREALMS, NODES)
MREALM_TABLES = (AREALMS, PRINCIPALS, ROLES, PERMISSIONS)
_USER_ROLES = {1: "owner", 2: "admin", 3: "user", 4: "guest"}   # cfxdb.user.UserRole
# cfxdb ActivationType / ActivationStatus codes
_TOKEN_CODES = {"atype": {1: "registration", 2: "login"}, "status": {1: "pending", 2: "active", 3: "expired"}}
_ORG_TYPES = {1: "individual", 2: "business", 3: "academic"}    # cfxdb OrganizationType (0: none)
_USAGE_STATUS = {0: "received", 1: "received", 2: "processed", 3: "failed"}  # cfxdb MasterNodeUsageStatus
_LOG_STATES = {1: "running", 2: "error"}   # cfxdb MNodeState / MWorkerState (ONLINE, DEGRADED)
_WORKER_TYPES = {"xbrmm": "marketmaker"}   # cfxdb's name where cfxstore's differs


def _value(v: Any) -> Any:
    """A cfxdb attribute as cfxstore stores it: times as int ns, numpy scalars as Python ones."""
    if isinstance(v, datetime.datetime):
        return int(v.timestamp() * 1_000_000) * 1000
    if hasattr(v, "astype"):
        return _ns(v)
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def _fields(obj: Any, rename: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    rename = rename or {}
    out = {}
    for name, v in vars(obj).items():
        if name.startswith("_") or name in drop or v is None:
            continue
        out[rename.get(name, name)] = _value(v)
    return out


def _status(obj: Any) -> str | None:
    code = getattr(obj, "status", None)
    by_code = getattr(type(obj), "STATUS_BY_CODE", None)
    if isinstance(code, int) and by_code:
        return str(by_code.get(code, code)).lower()
    return code


def _run_status(code: Any, r: TableResult) -> str:
    """A cfxdb cluster / worker group status code as a cfxstore run status."""
    # cfxdb is optional: only an import from a cfxdb database needs it.
    from cfxdb.mrealm.types import STATUS_BY_CODE

    text = str(STATUS_BY_CODE.get(code, "NONE")).lower()
    if text == "none":
        return "stopped"
    if text == "degraded":  # cfxstore has no "degraded": a cluster short of nodes is in error
        r.change("status DEGRADED stored as error")
        return "error"
    return text


def _log_state(code: Any, r: TableResult) -> str:
    """A cfxdb node / worker log state as a cfxstore run status (a heartbeat means it was up)."""
    if code == 2:
        r.change("state DEGRADED stored as error")
    elif code not in _LOG_STATES:
        r.change("state unset stored as running")
    return _LOG_STATES.get(code, "running")


def _counters(groups: dict[str, Any], prefix: str = "") -> dict[str, int | float]:
    """cfxdb's nested metric groups flattened to "group.metric" counters (None: not measured, left out)."""
    out: dict[str, int | float] = {}
    for name, v in groups.items():
        if isinstance(v, dict):
            out.update(_counters(v, f"{prefix}{name}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[prefix + name] = v
    return out


def _heartbeat(data: dict[str, Any], r: TableResult) -> dict[str, Any]:
    """The fields node and worker logs share, from cfxdb's ``marshal`` of the record."""
    head = {"timestamp": data.pop("timestamp"), "node_oid": uuid.UUID(data.pop("node_id")),
            "period": data.pop("period") or 0, "state": _log_state(data.pop("state"), r),
            "sent": data.pop("sent"), "seq": data.pop("seq") or 0}
    mrealm = data.pop("mrealm_id")
    head["mrealm_oid"] = uuid.UUID(mrealm) if mrealm else None
    return head


class _Kind:
    """One cfxdb table: how to read a record and what to put.

    CBOR tables are read with the class's ``parse``; FlatBuffers tables
    (usage, logs) with its ``cast``.
    """

    def __init__(self, name: str, table: uuid.UUID, cfxdb_class: Callable[[], Any],
                 put: Callable[[Any, Any, bytes, TableResult], bool | None], flatbuffers: bool = False) -> None:
        self.name, self.table, self.cfxdb_class, self.put = name, table, cfxdb_class, put
        self.flatbuffers = flatbuffers


#: The imported tables that grant access: each record imported records an import event in its transaction.
AUDITED = frozenset({"users", "user roles", "application realms", "roles", "permissions", "role associations",
                     "principals"})


def _walk(source: CfxdbSource, db: orm.Database, kind: _Kind, ledger: Ledger) -> TableResult:
    result = TableResult()
    audit = AuditLog(db)
    cls = kind.cfxdb_class()
    for key, raw in source.items(kind.table):
        result.read += 1
        lkey = record_key(kind.name, key.hex())
        try:
            obj = cls.cast(raw) if kind.flatbuffers else cls.parse(cbor2.loads(raw))
            with db.begin(write=True) as txn:
                if ledger.seen(txn, lkey):
                    result.skip("imported before")
                    continue
                if kind.put(txn, obj, key, result):
                    ledger.enter(txn, lkey)
                    result.imported += 1
                    if kind.name in AUDITED:
                        audit.record(txn, AuditEvent(kind="import", action="fx import",
                                                     detail={"table": kind.name, "source key": key.hex()}))
            crashpoint.reached("fx-record-committed")
        except Exception as exc:  # a record cfxdb itself refuses to parse, or one that does not validate
            result.skip(f"invalid ({type(exc).__name__}: {str(exc)[:80]})")
    return result


def _last_write(path: str) -> int:
    """When the source was last written (int ns): an upper bound for times it does not record."""
    return os.stat(os.path.join(path, "data.mdb")).st_mtime_ns


def _uuids(key: bytes) -> tuple[uuid.UUID, ...]:
    return tuple(uuid.UUID(bytes=key[i:i + 16]) for i in range(0, len(key) - len(key) % 16, 16))


def import_global(path: str, db: orm.Database) -> dict[str, TableResult]:
    """Import the controller database (cfxdb GlobalSchema) at path into db's GlobalSchema."""
    # cfxdb is optional: only an import from a cfxdb database needs it.
    import cfxdb.user as cu
    import cfxdb.mrealm as cm
    from cfxdb.usage import MasterNodeUsage

    schema, ledger = attached(GlobalSchema, db), Ledger(db)
    known_by = _last_write(path)  # for times cfxdb does not keep

    def users(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        schema.users[txn, o.oid] = g.User.parse(_fields(o))
        return True

    def organizations(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        f = _fields(o)
        if isinstance(f.get("otype"), int):
            if f["otype"] not in _ORG_TYPES:
                r.skip(f"organization type {f['otype']} has no cfxstore counterpart")
                return False
            f["otype"] = _ORG_TYPES[f["otype"]]
        schema.organizations[txn, o.oid] = g.Organization.parse(f)
        return True

    def tokens(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        f = _fields(o, drop=("code",))
        f["code_hash"] = g.ActivationToken.hash_code(o.code)
        r.change("activation code hashed")
        for name in ("atype", "status"):
            if isinstance(f.get(name), int):
                f[name] = _TOKEN_CODES[name].get(f[name])
        schema.activation_tokens[txn, o.oid] = g.ActivationToken.parse(f)
        return True

    def mrealms(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        schema.mrealms[txn, o.oid] = g.ManagementRealm.parse(_fields(o))
        return True

    def user_roles(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        user_oid, mrealm_oid = _uuids(key)[:2]
        roles = [_USER_ROLES.get(x, str(x)) for x in o.roles]
        schema.user_mrealm_roles[txn, (user_oid, mrealm_oid)] = g.UserMrealmRole.parse(
            {"user_oid": user_oid, "mrealm_oid": mrealm_oid, "roles": roles, "granted": known_by})
        return True

    def nodes(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        schema.nodes[txn, o.oid] = g.Node.parse(_fields(o))
        return True

    def usage(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        d = o.marshal()
        pubkey = d.pop("pubkey")
        record = {"oid": _uuids(key[8:])[0],  # keyed (timestamp, oid)
                  "timestamp": d.pop("timestamp"), "timestamp_from": d.pop("timestamp_from"),
                  "mrealm_oid": uuid.UUID(d.pop("mrealm_id")) if d.get("mrealm_id") else None,
                  "pubkey": bytes(pubkey).hex() if pubkey else None,
                  "status": _USAGE_STATUS.get(d.pop("status") or 0), "status_message": d.pop("status_message")}
        # Delivery bookkeeping of the metering service, not usage: not kept.
        for name in ("client_ip_address", "client_ip_version", "client_ip_port", "seq", "sent", "processed",
                     "metering_id"):
            d.pop(name, None)
        record["counters"] = _counters(d)
        schema.usage[txn, (record["timestamp"], record["oid"])] = g.UsageRecord.parse(record)
        return True

    kinds = [_Kind("users", USERS, lambda: cu.User, users),
             _Kind("organizations", ORGANIZATIONS, lambda: cu.Organization, organizations),
             _Kind("activation tokens", ACTIVATION_TOKENS, lambda: cu.ActivationToken, tokens),
             _Kind("management realms", MREALMS, lambda: cm.ManagementRealm, mrealms),
             _Kind("user roles", USER_MREALM_ROLES, lambda: cu.UserMrealmRole, user_roles),
             _Kind("nodes", NODES, lambda: cm.Node, nodes),
             _Kind("usage records", USAGE, lambda: MasterNodeUsage, usage, flatbuffers=True)]
    return _import(path, "controller database", GLOBAL_TABLES, db, kinds, ledger)


def import_mrealm(path: str, db: orm.Database) -> dict[str, TableResult]:
    """Import a management-realm database (cfxdb MrealmSchema) at path into db's MrealmSchema."""
    # cfxdb is optional: only an import from a cfxdb database needs it.
    import cfxdb.mrealm as cm
    from cfxdb.log import MNodeLog, MWorkerLog

    schema, ledger = attached(MrealmSchema, db), Ledger(db)
    known_by = _last_write(path)  # for times cfxdb does not keep
    mgmt = Management(db)
    realm_names: dict[uuid.UUID, str] = {}
    role_names: dict[uuid.UUID, str] = {}

    def arealms(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        f = _fields(o, drop=("datamarket_oid",))
        f["status"] = _status(o) or "stopped"
        schema.arealms[txn, o.oid] = m.ApplicationRealm.parse(f)
        realm_names[o.oid] = o.name
        return True

    def roles(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        schema.roles[txn, o.oid] = m.Role.parse(_fields(o, rename={"owner": "owner_oid"}))
        role_names[o.oid] = o.name
        return True

    def permissions(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        f = _fields(o, rename={"owner": "owner_oid"})
        # cfxdb's own code tables
        for name, codes in (("match", type(o).MATCH_TYPES_TOSTR), ("uri_check_level", type(o).URI_CHECK_LEVELS_TOSTR)):
            if isinstance(f.get(name), int):
                text = codes.get(f.pop(name))  # 0 (none): the cfxstore default
                if text is not None:
                    f[name] = text
        schema.permissions[txn, o.oid] = m.Permission.parse(f)
        return True

    def associations(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        arealm_oid, role_oid = _uuids(key)[:2]
        schema.arealm_role_associations[txn, (arealm_oid, role_oid)] = m.ApplicationRealmRoleAssociation.parse(
            {"arealm_oid": arealm_oid, "role_oid": role_oid, "created": known_by})
        return True

    def principals(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        realm, role = realm_names.get(o.arealm_oid), role_names.get(o.role_oid)
        if realm is None or role is None:
            r.skip("application realm or role not in the source")
            return False
        f = _fields(o, rename={"authextra": "extra"})
        f.update(realm=realm, role=role, created=f.get("modified", known_by))
        # Through the principals' owner, in the import's transaction (relations.py, change feed).
        mgmt.principals.create(txn, **m.Principal.parse(f).marshal())
        return True

    Put = Callable[[Any, Any, bytes, TableResult], bool]

    def with_run_status(table: orm.Map, entity: type[Entity]) -> Put:
        """Clusters, worker groups and placements: their fields, the status code as a name."""
        def put(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
            f = _fields(o)
            f["status"] = _run_status(o.status, r)
            table[txn, o.oid] = entity.parse(f)
            return True
        return put

    def membership(table: orm.Map, entity: type[Entity]) -> Put:
        def put(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
            cluster_oid, node_oid = _uuids(key)[:2]  # keyed (cluster, node), as in cfxdb
            table[txn, (cluster_oid, node_oid)] = entity.parse(
                {**_fields(o), "cluster_oid": cluster_oid, "node_oid": node_oid})
            return True
        return put

    def web_services(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        # cfxdb keeps the type and its type-specific settings outside its own fields
        config = dict(o._unknown or {})
        f = _fields(o)
        f["service_type"] = f.get("service_type") or config.pop("service_type", None)
        f["config"] = config
        schema.webservices[txn, o.oid] = m.WebService.parse(f)
        return True

    def node_logs(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        d = o.marshal()
        f = {**_heartbeat(d, r), "session": d.pop("session")}
        f["counters"] = _counters(d)
        record = m.NodeLog.parse(f)
        schema.node_logs[txn, record.key] = record
        return True

    def worker_logs(txn: Any, o: Any, key: bytes, r: TableResult) -> bool:
        d = o.marshal()
        f = {**_heartbeat(d, r), "worker_id": d.pop("worker_id")}
        wtype = d.pop("type")
        f["worker_type"] = _WORKER_TYPES.get(wtype, wtype)
        if f["worker_type"] not in m.WORKER_TYPES:
            r.skip(f"worker type {wtype!r} has no cfxstore counterpart")
            return False
        f["counters"] = _counters(d)
        record = m.WorkerLog.parse(f)
        schema.worker_logs[txn, record.key] = record
        return True

    kinds = [_Kind("application realms", AREALMS, lambda: cm.ApplicationRealm, arealms),
             _Kind("roles", ROLES, lambda: cm.Role, roles),
             _Kind("permissions", PERMISSIONS, lambda: cm.Permission, permissions),
             _Kind("role associations", AREALM_ROLES, lambda: cm.ApplicationRealmRoleAssociation, associations),
             _Kind("principals", PRINCIPALS, lambda: cm.Principal, principals),
             _Kind("router clusters", ROUTER_CLUSTERS, lambda: cm.RouterCluster,
                   with_run_status(schema.routerclusters, m.RouterCluster)),
             _Kind("router cluster memberships", ROUTER_CLUSTER_MEMBERSHIPS, lambda: cm.RouterClusterNodeMembership,
                   membership(schema.routercluster_node_memberships, m.RouterClusterNodeMembership)),
             _Kind("router worker groups", WORKER_GROUPS, lambda: cm.RouterWorkerGroup,
                   with_run_status(schema.router_workergroups, m.RouterWorkerGroup)),
             _Kind("worker group placements", PLACEMENTS, lambda: cm.RouterWorkerGroupClusterPlacement,
                   with_run_status(schema.router_workergroup_placements, m.RouterWorkerGroupPlacement)),
             _Kind("web clusters", WEB_CLUSTERS, lambda: cm.WebCluster,
                   with_run_status(schema.webclusters, m.WebCluster)),
             _Kind("web cluster memberships", WEB_CLUSTER_MEMBERSHIPS, lambda: cm.WebClusterNodeMembership,
                   membership(schema.webcluster_node_memberships, m.WebClusterNodeMembership)),
             _Kind("web services", WEB_SERVICES, lambda: cm.WebService, web_services),
             _Kind("node logs", NODE_LOGS, lambda: MNodeLog, node_logs, flatbuffers=True),
             _Kind("worker logs", WORKER_LOGS, lambda: MWorkerLog, worker_logs, flatbuffers=True)]
    results = _import(path, "management-realm database", MREALM_TABLES, db, kinds, ledger)
    with CfxdbSource(path, "management-realm database") as source:
        results["credentials"] = _credentials(source, db, mgmt, ledger, cm.Credential)
    return results


class SkipCredential(Error):
    """A credential that is not imported; the message is the reason the summary counts."""


# How one credential method is imported: ``import_x(mgmt, txn, principal, fields)`` stores the credential
# for the principal through the principals' owner in txn and returns what changed on the way in (the
# summary's "changed" note; empty when it is stored as read), or raises SkipCredential. ``fields`` are the method's settings wherever
# cfxdb holds them (see _credential_fields).
CredentialImport = Callable[[Management, Any, m.Principal, dict[str, Any]], str]


def _secret(method: str, fields: dict[str, Any]) -> str:
    secret = fields.get("secret")
    if not isinstance(secret, str) or not secret:
        raise SkipCredential(f"{method} credential without a secret")
    return secret


def _import_ticket(mgmt: Management, txn: Any, principal: m.Principal, fields: dict[str, Any]) -> str:
    mgmt.principals.set_secret(principal.oid, "ticket", _secret("ticket", fields), txn)
    return "ticket hashed (argon2id)"


def _import_wampcra(mgmt: Management, txn: Any, principal: m.Principal, fields: dict[str, Any]) -> str:
    # No iterations: the cfxstore default (clients derive the key with what the challenge names).
    options = {"salt": fields.get("salt"), "iterations": fields.get("iterations"),
               "keylen": fields.get("keylen") or 32}
    mgmt.principals.set_secret(principal.oid, "wampcra", _secret("wampcra", fields), txn, **options)
    # Without a salt Crossbar signs with the secret itself; cfxstore always derives the key.
    return "WAMP-CRA key derived" if options["salt"] else "WAMP-CRA key derived with a new salt"


def _import_scram(mgmt: Management, txn: Any, principal: m.Principal, fields: dict[str, Any]) -> str:
    # Crossbar FX stores the derived keys, never the password: they are checked and kept as they are.
    mgmt.principals.set_credential(principal.oid, "scram", {k: v for k, v in fields.items() if v is not None}, txn)
    return ""


def _import_cryptosign(mgmt: Management, txn: Any, principal: m.Principal, fields: dict[str, Any]) -> str:
    keys = fields.get("authorized_keys")
    if not isinstance(keys, list) or not keys:
        raise SkipCredential("cryptosign credential without authorized_keys")
    for pubkey in keys:
        try:
            mgmt.principals.add_key(principal.oid, pubkey, txn=txn)
        except AlreadyExists as exc:  # the same key twice, or held by another principal: a key names one
            raise SkipCredential(f"cryptosign key refused: {str(exc).partition(';')[0][:120]}") from None
        except InvalidArgument:
            raise SkipCredential("cryptosign credential with a malformed key in authorized_keys") from None
    return "cryptosign authorized_keys stored as one key record each"


def _import_tls(mgmt: Management, txn: Any, principal: m.Principal, fields: dict[str, Any]) -> str:
    # Crossbar FX defines no fields for TLS credentials; a match is taken as a stock node config names it.
    match = {k: fields[k] for k in ("sha256", "sha1", "cn") if fields.get(k) is not None}
    if not match and fields.get("certificate-sha1") is not None:
        match = {"sha1": fields["certificate-sha1"]}
    if not match:
        raise SkipCredential("tls credential without a certificate to match (Crossbar FX stores none)")
    mgmt.principals.set_credential(principal.oid, "tls", match, txn)
    return ""


CREDENTIAL_IMPORTS: dict[str, CredentialImport] = {"ticket": _import_ticket, "wampcra": _import_wampcra,
                                                   "scram": _import_scram, "cryptosign": _import_cryptosign,
                                                   "tls": _import_tls}


def _credential_fields(o: Any) -> dict[str, Any]:
    """A credential's method settings: Crossbar FX's API stores them at the top level of the record
    (cfxdb keeps them among its unknown fields), a credential built with cfxdb directly under ``authconfig``."""
    top, config = dict(o._unknown or {}), dict(o.authconfig or {})
    differing = sorted(k for k in top.keys() & config.keys() if top[k] != config[k])
    if differing:
        raise SkipCredential(f"{', '.join(differing)} differs between authconfig and the top level")
    return {**top, **config}


def _credentials(source: CfxdbSource, db: orm.Database, mgmt: Management, ledger: Ledger, cls: Any) -> TableResult:
    """Credentials through the principals' owner: secrets are hashed or derived on the way in.

    Every credential read is imported or skipped with the reason; one imported may be counted as changed.
    """
    result = TableResult()
    for key, raw in source.items(CREDENTIALS):
        result.read += 1
        lkey = record_key("credentials", key.hex())
        with db.begin() as txn:
            if ledger.seen(txn, lkey):
                result.skip("imported before")
                continue
        try:
            try:
                o = cls.parse(cbor2.loads(raw))
            except Exception as exc:  # cfxdb checks authconfig itself and refuses some (tls, cookie) outright
                raise SkipCredential(f"refused by cfxdb ({type(exc).__name__}: {str(exc)[:80]})") from None
            importer = CREDENTIAL_IMPORTS.get(o.authmethod)
            if importer is None:
                raise SkipCredential(f"{o.authmethod} credentials have no cfxstore counterpart")
            fields = _credential_fields(o)
            principal = mgmt.credentials.get_principal(o.realm, o.authid)
            if principal is None:
                raise SkipCredential("no principal with its realm and authid")

            # The credential and its ledger entry commit together: setting a secret again on a re-run would
            # end the principal's logins again. Hashes are computed in the transaction; the import runs offline.
            def write(txn: Any) -> str:
                change = importer(mgmt, txn, principal, fields)
                ledger.enter(txn, lkey)
                return change

            change = mgmt.transact(write)
        except SkipCredential as skip:
            result.skip(str(skip))
            continue
        except Exception as exc:  # a credential that does not validate
            result.skip(f"invalid ({type(exc).__name__}: {str(exc)[:80]})")
            continue
        crashpoint.reached("fx-secret-set")
        result.imported += 1
        if change:
            result.change(change)
    return result


def _import(path: str, what: str, tables: tuple[uuid.UUID, ...], db: orm.Database, kinds: list[_Kind],
            ledger: Ledger) -> dict[str, TableResult]:
    with CfxdbSource(path, what) as source:
        if not any(source.has(t) for t in tables):
            raise ImportSourceError(f"{what} {path} is a cfxdb database but holds no {what} tables "
                                    f"(it has {len(source.slots)} other tables)")
        return {kind.name: _walk(source, db, kind, ledger) for kind in kinds}


def kind_of(path: str) -> str | None:
    """"global", "mrealm" or None: which FX database path holds (for import-cfxdb)."""
    with CfxdbSource(path, "database") as source:
        if any(source.has(t) for t in GLOBAL_TABLES):
            return "global"
        if any(source.has(t) for t in MREALM_TABLES):
            return "mrealm"
    return None


def fx_sources(paths: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(path, "global" | "mrealm") of each FX database, checked before anything is written."""
    found = []
    for path in paths:
        kind = kind_of(path)
        if kind is None:
            raise ImportSourceError(f"FX database {path} is a cfxdb database but holds neither controller "
                                    "(GlobalSchema) nor management-realm (MrealmSchema) tables")
        found.append((path, kind))
    return found
