"""Valid records of every kind, with their parents created as needed."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from nacl.signing import SigningKey

from cfxstore.management import Management

_n = itertools.count()


def _u(prefix: str) -> str:
    return f"{prefix}-{next(_n)}"


def fields(mgmt: Management, kind: str, **overrides: Any) -> dict[str, Any]:
    """Fields for a new valid record of kind; references not given are created."""
    def ref(name: str, target: str) -> Any:
        return overrides[name] if name in overrides else make(mgmt, target).oid

    base: dict[str, Any]
    if kind == "user":
        base = {"email": f"{_u('u')}@example.com"}
    elif kind in ("organization", "mrealm", "arealm", "role", "routercluster", "webcluster"):
        base = {"name": _u(kind)}
        if kind == "mrealm":
            base["owner"] = ref("owner", "user")
    elif kind == "organization_role":
        base = {"user_oid": ref("user_oid", "user"), "org_oid": ref("org_oid", "organization"), "roles": ["user"]}
    elif kind == "mrealm_role":
        base = {"user_oid": ref("user_oid", "user"), "mrealm_oid": ref("mrealm_oid", "mrealm"), "roles": ["admin"]}
    elif kind == "node":
        base = {"pubkey": secrets.token_hex(32)}
        if "mrealm_oid" in overrides:
            base["authid"] = _u("node")
    elif kind == "permission":
        base = {"role_oid": ref("role_oid", "role"), "uri": _u("com.example") + "."}
    elif kind == "arealm_role":
        base = {"arealm_oid": ref("arealm_oid", "arealm"), "role_oid": ref("role_oid", "role")}
    elif kind == "principal":
        base = {"realm": "realm1", "authid": _u("p"), "role": "user"}
        # A linked role or realm must carry the principal's name for it.
        for link, coll, name in (("role_oid", mgmt.roles, "role"), ("arealm_oid", mgmt.arealms, "realm")):
            linked = coll.find(overrides[link]) if link in overrides else None
            if linked is not None:
                base[name] = linked.name
    elif kind in ("routercluster_node", "webcluster_node"):
        target = "routercluster" if kind == "routercluster_node" else "webcluster"
        base = {"cluster_oid": ref("cluster_oid", target), "node_oid": ref("node_oid", "node")}
    elif kind == "credential":
        principal = overrides.get("principal_oid") or make(mgmt, "principal").oid
        p = mgmt.principals.get(principal)
        base = {"principal_oid": principal, "authmethod": "ticket", "realm": p.realm, "authid": p.authid,
                "authconfig": {"hash": "$argon2id$stand-in"}}
    elif kind == "cryptosign_key":
        base = {"principal_oid": ref("principal_oid", "principal"),
                "pubkey": SigningKey.generate().verify_key.encode().hex()}
    elif kind == "router_workergroup":
        base = {"cluster_oid": ref("cluster_oid", "routercluster"), "name": _u("wg")}
    elif kind == "webservice":
        base = {"webcluster_oid": ref("webcluster_oid", "webcluster"), "path": _u("path"), "service_type": "static"}
    else:
        raise AssertionError(f"no factory for {kind}")
    return {**base, **overrides}


def make(mgmt: Management, kind: str, **overrides: Any) -> Any:
    """A stored record of kind (internal kinds are written straight to their table)."""
    coll = mgmt.collection(kind)
    values = fields(mgmt, kind, **overrides)
    if not coll.kind.internal:
        return coll.create(**values)
    record = coll.kind.entity(**values)
    with mgmt.db.begin(write=True) as txn:
        coll.table[txn, coll.kind.key_of(record)] = record
    return record
