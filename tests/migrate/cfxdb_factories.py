"""Stock Crossbar databases built with the real cfxdb package, the way Crossbar writes them."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import numpy as np
import zlmdb
from cfxdb.cookiestore import CookieStoreSchema
from cfxdb.cookiestore import Cookie as CfxCookie
from cfxdb.realmstore import Event as CfxEvent
from cfxdb.realmstore import Publication as CfxPublication
from cfxdb.realmstore import RealmStore as CfxRealmStore
from cfxdb.realmstore import Session as CfxSession

HOUR = 3600


def transport_with_secrets(value: str) -> dict[str, Any]:
    """Transport details as Crossbar marshals them: the raw cookie value and headers included."""
    return {
        "type": "websocket", "peer": "tcp4:127.0.0.1:50000", "is_secure": False,
        "http_cbtid": value,
        "http_headers_received": {"host": "localhost", "cookie": f"cbtid={value}",
                                  "authorization": "Basic c2VjcmV0", "user-agent": "test"},
        "http_headers_sent": {"set-cookie": f"cbtid={value}; max-age=3600"},
    }


def build_cookie_store(path: str, n: int = 3, *, expired: int = 0, lib_version: str | None = None,
                       values: list[str] | None = None, max_age: int = HOUR) -> list[dict[str, Any]]:
    """A Crossbar cookie store with n live cookies (alternately authenticated) and some expired ones.

    lib_version picks the LMDB data format ("0.9" as older Crossbar releases wrote, "1.0"); values
    (if given) are the live cookies' values, max_age their lives in seconds.
    Returns what each live cookie was created with, raw value included.
    """
    db = zlmdb.Database(dbpath=path, maxsize=2**26, lib_version=lib_version)
    try:
        schema = CookieStoreSchema.attach(db)
        made = []
        now = time.time_ns()
        with db.begin(write=True) as txn:
            for i in range(n + expired):
                live = i < n
                c = CfxCookie()
                c.oid = uuid.uuid4()
                c.created = np.datetime64(now - (0 if live else 10 * HOUR * 10**9), "ns")
                c.max_age = max_age if live else HOUR
                c.name = "cbtid"
                c.value = values[i] if values is not None and live else secrets.token_urlsafe(18)
                if i % 2 == 0:
                    c.authenticated = np.datetime64(now, "ns")
                    c.authid = f"user{i}"
                    c.authrole = "user"
                    c.authmethod = "ticket"
                    c.authrealm = "realm1"
                    c.authextra = {"n": i}
                    c.authenticated_on_node = uuid.uuid4()
                    c.authenticated_on_worker = "worker1"
                    c.authenticated_session = 1000 + i
                    c.authenticated_transport_info = transport_with_secrets(c.value)
                schema.cookies[txn, c.oid] = c
                if live:
                    made.append({"oid": c.oid, "value": c.value, "authid": c.authid})
        return made
    finally:
        db.__exit__(None, None, None)  # zlmdb closes the environment here


def build_realm_store(path: str, *, sessions: int = 4, publications: int = 3,
                      receivers: int = 2) -> dict[str, Any]:
    """A Crossbar realm store: sessions (half of them left), publications and their events."""
    db = zlmdb.Database(dbpath=path, maxsize=2**26)
    try:
        schema = CfxRealmStore.attach(db)
        now = time.time_ns()
        made: dict[str, Any] = {"sessions": [], "publications": [], "events": []}
        with db.begin(write=True) as txn:
            for i in range(sessions):
                s = CfxSession()
                s.oid = uuid.uuid4()
                s.session = 5000 + i
                s.joined_at = np.datetime64(now + i, "ns")
                if i % 2:
                    s.left_at = np.datetime64(now + i + 1000, "ns")
                s.realm = "realm1"
                s.authid = f"user{i}"
                s.authrole = "user"
                s.authmethod = "ticket"
                s.authextra = {"i": i}
                s.node_oid = uuid.uuid4()
                s.worker_name = "worker1"
                s.transport = transport_with_secrets(f"value{i}")
                schema.sessions[txn, s.oid] = s
                made["sessions"].append({"oid": s.oid, "session": s.session, "secret": f"value{i}"})
            for j in range(publications):
                p = CfxPublication()
                p.timestamp = now + 10_000 + j
                p.publication = 7000 + j
                p.publisher = 5000
                p.topic = "com.example.topic"
                p.args = [j, "x"]
                p.kwargs = {"j": j}
                schema.publications[txn, p.publication] = p
                made["publications"].append(p.publication)
                for r in range(receivers):
                    e = CfxEvent()
                    e.timestamp = now + 20_000 + j * 100 + r
                    e.subscription = 900
                    e.publication = p.publication
                    e.receiver = 5000 + r
                    schema.events[txn, (e.subscription, np.datetime64(e.timestamp, "ns"))] = e
                    made["events"].append((e.subscription, e.timestamp, e.receiver, e.publication))
        return made
    finally:
        db.__exit__(None, None, None)  # zlmdb closes the environment here


def build_fx_global(path: str) -> dict[str, Any]:
    """A Crossbar FX controller database written through cfxdb's GlobalSchema."""
    from datetime import datetime, timezone

    from cfxdb.globalschema import GlobalSchema
    from cfxdb.mrealm import ManagementRealm, Node
    from cfxdb.user import ActivationToken, Organization, User, UserMrealmRole

    db = zlmdb.Database(dbpath=path, maxsize=2**26)
    try:
        schema = GlobalSchema.attach(db)
        now = datetime.now(timezone.utc)
        made: dict[str, Any] = {}
        with db.begin(write=True) as txn:
            user = User(oid=uuid.uuid4(), email="ops@example.com", registered=now, pubkey="a" * 64,
                        label="Ops")
            schema.users[txn, user.oid] = user
            org = Organization(oid=uuid.uuid4(), name="example-org", otype=1, registered=now)
            schema.organizations[txn, org.oid] = org
            token = ActivationToken(oid=uuid.uuid4(), atype=1, status=1, created=now, code="ABCD-EFGH-IJKL",
                                    email=user.email, pubkey=user.pubkey)
            schema.activation_tokens[txn, token.oid] = token
            mrealm = ManagementRealm(oid=uuid.uuid4(), name="mrealm1", created=now, owner=user.oid)
            schema.mrealms[txn, mrealm.oid] = mrealm
            schema.users_mrealm_roles[txn, (user.oid, mrealm.oid)] = UserMrealmRole(roles=[1, 2])
            node = Node(oid=uuid.uuid4(), owner_oid=user.oid, pubkey="b" * 64, mrealm_oid=mrealm.oid,
                        authid="node1", authextra={"x": 1})
            schema.nodes[txn, node.oid] = node
            made.update(user=user, org=org, token=token, mrealm=mrealm, node=node)
        return made
    finally:
        db.__exit__(None, None, None)


# authid -> (authmethod, settings, form) of the credentials build_fx_mrealm writes. "api": as Crossbar FX's
# add_principal_credential writes them (the dict it is called with parsed by cfxdb: settings at the top
# level); "authconfig": built with cfxdb's authconfig.
FX_CREDENTIALS: dict[str, tuple[str, dict[str, Any], str]] = {
    "dave": ("ticket", {"secret": "dave-fx-ticket"}, "api"),
    "erin": ("wampcra", {"secret": "erin-fx-secret", "salt": "pepper", "iterations": 50, "keylen": 32}, "api"),
    "fred": ("ticket", {"secret": "fred-fx-ticket"}, "authconfig"),
    "gina": ("wampcra", {"secret": "gina-fx-secret", "salt": "salt", "iterations": 60, "keylen": 16},
             "authconfig"),
}


def fx_credential(authmethod: str, settings: dict[str, Any], form: str) -> Any:
    """A cfxdb Credential with its settings where form says (see FX_CREDENTIALS), not yet keyed."""
    from cfxdb.mrealm import Credential

    if form == "api":
        return Credential.parse({"authmethod": authmethod, **settings})
    return Credential.parse({"authmethod": authmethod, "authconfig": settings})


def build_fx_mrealm(path: str, credentials: dict[str, tuple[str, dict[str, Any], str]] | None = None,
                    *, arealm: str = "app1", role: str = "frontend") -> dict[str, Any]:
    """A Crossbar FX management-realm database written through cfxdb's MrealmSchema.

    One principal per entry of credentials (default FX_CREDENTIALS), each with its credential, keyed and
    stamped as Crossbar FX does it.
    """
    from cfxdb.mrealm import ApplicationRealm, ApplicationRealmRoleAssociation, Permission, Principal, Role
    from cfxdb.mrealmschema import MrealmSchema

    db = zlmdb.Database(dbpath=path, maxsize=2**26)
    try:
        schema = MrealmSchema.attach(db)
        now = np.datetime64(time.time_ns(), "ns")  # these cfxdb classes keep numpy times
        with db.begin(write=True) as txn:
            arealm = ApplicationRealm(oid=uuid.uuid4(), name=arealm, status=1, changed=now)
            schema.arealms[txn, arealm.oid] = arealm
            role = Role(oid=uuid.uuid4(), name=role, created=now)
            schema.roles[txn, role.oid] = role
            perm = Permission(oid=uuid.uuid4(), role_oid=role.oid, uri="com.example.", match=2, allow_call=True,
                              allow_subscribe=True, created=now)
            schema.permissions[txn, perm.oid] = perm
            schema.arealm_role_associations[txn, (arealm.oid, role.oid)] = ApplicationRealmRoleAssociation(
                arealm_oid=arealm.oid, role_oid=role.oid)
            principals = {}
            for authid, (method, settings, form) in (FX_CREDENTIALS if credentials is None else credentials).items():
                p = Principal(oid=uuid.uuid4(), modified=now, arealm_oid=arealm.oid, authid=authid, role_oid=role.oid)
                schema.principals[txn, p.oid] = p
                c = fx_credential(method, settings, form)
                c.oid, c.created, c.realm, c.authid, c.principal_oid = uuid.uuid4(), now, arealm.name, authid, p.oid
                schema.credentials[txn, c.oid] = c
                principals[authid] = settings
        return {"arealm": arealm, "role": role, "permission": perm, "principals": principals}
    finally:
        db.__exit__(None, None, None)


def add_fx_credential(path: str, authid: str, authmethod: str, settings: dict[str, Any], form: str = "api") -> None:
    """One more credential for the principal ``authid`` of an FX management-realm database, as FX adds it."""
    from cfxdb.mrealmschema import MrealmSchema

    db = zlmdb.Database(dbpath=path, maxsize=2**26)
    try:
        schema = MrealmSchema.attach(db)
        with db.begin(write=True) as txn:
            principal = next(p for p in schema.principals.select(txn, return_keys=False) if p.authid == authid)
            arealm = schema.arealms[txn, principal.arealm_oid]
            c = fx_credential(authmethod, settings, form)
            c.oid, c.realm, c.authid, c.principal_oid = uuid.uuid4(), arealm.name, authid, principal.oid
            c.created = np.datetime64(time.time_ns(), "ns")
            schema.credentials[txn, c.oid] = c
    finally:
        db.__exit__(None, None, None)
