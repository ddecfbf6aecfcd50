"""Converting a stock Crossbar node directory to cfxstore in place (``cfxstore router adopt``).

Order, so that a kill at any moment and a re-run end like one clean run:
1. the stock config is copied to a backup (a new file, renamed into place;
   its name carries a digest of the content, so a re-run finds it again);
2. static principals are written to the credential store (skipped when the
   stored credential already verifies), then cookies and realm-store history
   are imported (the import ledger makes this idempotent): in this order, as
   a principal's new secret ends the logins of its cookies, and the imported
   ones are logins the stock node allowed with the secret it has;
3. the converted config replaces config.json in one rename.
Until step 3 the node is still a stock node; after it, nothing is left to
convert and a re-run changes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import tempfile
from typing import Any, Mapping

from cfxstore.audit.entities import AuditEvent
from cfxstore.credentials.hashing import wampcra_key

from orm import atomic, crashpoint

from cfxstore.errors import AlreadyExists, InvalidArgument
from cfxstore.management import Management
from cfxstore.management.cryptosign_keys import parse_pubkey
from cfxstore.migrate.access import open_or_create
from cfxstore.migrate.cfxdb_import import SHORT_COOKIE_LIFE, check_sources, import_cookies, import_realmstore
from cfxstore.migrate.errors import MaintenanceError
from cfxstore.node.config import STORE_TYPE, resolve_path
from cfxstore.node.history_rules import rules_of
from cfxstore.node.nodeconfig import AUTHENTICATOR, config_path
from cfxstore.node.process import running_pid
from cfxstore.router.adopt_stored import STORED_METHODS, stored_config
# The same walk over router workers and WebSocket transports the node tools use (they yield the config's dicts).
from cfxstore.node.nodeconfig import _routers as routers
from cfxstore.node.nodeconfig import _websocket_configs as websocket_configs

DB_PATH = "cfxstore-db"
# Stock realm-store keys that keep their meaning in a cfxstore realm store.
_REALM_STORE_KEPT = ("event-history", "call-queue", "limit", "max-buffer", "buffer-flush")
_STOCK_COOKIE_STORES = ("memory", "file", "database")
_STOCK_REALM_STORES = ("memory", "cfxdb")
# Stock WAMP-CRA defaults for a salted secret (as autobahn derives it).
_CRA_ITERATIONS, _CRA_KEYLEN = 1000, 32


class AdoptError(MaintenanceError):
    """The node directory cannot be adopted (running, no config, unsupported config)."""


@dataclasses.dataclass
class StaticPrincipal:
    realm: str
    authid: str
    role: str
    method: str            # "ticket", "wampcra", "scram", "tls" or "cryptosign"
    secret: str = ""
    salt: str | None = None
    iterations: int | None = None
    keylen: int | None = None
    config: dict[str, Any] | None = None   # scram, tls: the credential as stored (adopt_stored.py)
    pubkeys: tuple[str, ...] = ()   # cryptosign's authorized_keys


@dataclasses.dataclass
class Plan:
    """What converting a stock config takes: the new config and the data to carry over."""

    config: dict[str, Any]
    changes: list[str]
    cookie_sources: list[str]
    realm_sources: list[tuple[str, tuple[Any, ...]]]   # (path, event-history rules)
    principals: list[StaticPrincipal]

    @property
    def empty(self) -> bool:
        return not self.changes


def _secret(value: Any, where: str) -> str:
    """A static secret as Crossbar reads it: literal, or "${VAR}" from the environment."""
    # Crossbar is optional (the router extra).
    from crossbar.common.checkconfig import maybe_from_env

    if not isinstance(value, str) or not value:
        raise AdoptError(f"{where} is missing or empty")
    secret = maybe_from_env(where, value, hide_value=True)
    if secret == value and value.startswith("$"):
        raise AdoptError(f"{where} names an environment variable that is not set here ({value}); "
                         "set it as for the stock node and run again")
    return secret


def _static_principals(method: str, item: Mapping[str, Any], realms: list[str], where: str
                       ) -> list[StaticPrincipal]:
    found: list[StaticPrincipal] = []
    # Crossbar's static sections: ticket "principals" with "ticket", WAMP-CRA "users" with "secret",
    # SCRAM and TLS "principals" with their stored credential, cryptosign "principals" with "authorized_keys".
    section, field = ("users", "secret") if method == "wampcra" else ("principals", "ticket")
    for authid, p in (item.get(section) or {}).items():
        pwhere = f"{where}.auth.{method}.{section}[{authid!r}]"
        if not isinstance(p, Mapping) or not isinstance(p.get("role"), str):
            raise AdoptError(f"{pwhere} has no role; cfxstore principals need one: add it and run again")
        if method in STORED_METHODS:
            try:
                config = stored_config(method, p, pwhere)
            except ValueError as exc:
                raise AdoptError(str(exc)) from None
            found.extend(StaticPrincipal(realm=realm, authid=authid, role=p["role"], method=method, config=config)
                         for realm in realms)
            continue
        if method == "cryptosign":
            found.append(_static_keys(p, realms, pwhere, authid))
            continue
        secret = _secret(p.get(field), f"{pwhere}.{field}")
        salt = p.get("salt")
        # A static principal may join every realm of its router worker.
        for realm in realms:
            found.append(StaticPrincipal(
                realm=realm, authid=authid, role=p["role"], method=method, secret=secret, salt=salt,
                iterations=p.get("iterations", _CRA_ITERATIONS) if salt else None,
                keylen=p.get("keylen", _CRA_KEYLEN) if salt else None))
    return found


@dataclasses.dataclass
class _Listener:
    """A WebSocket service's logins by one method once converted: the store's principals of its realms."""

    where: str
    method: str
    realms: list[str]
    own: list[StaticPrincipal]   # those its stock config lists (none for one already on the store)


def _scope_problems(listeners: list[_Listener]) -> list[str]:
    """Why writing every listener's static principals into the one store they would share is refused.

    Crossbar calls one function authenticator per worker, whatever the transport (it caches it by
    its "create" name), so a converted listener accepts every stored principal of its realms: a
    principal only one listener listed must not become a login on another, and two secrets or
    roles for one authid must not end as whichever was written last.
    """
    problems: list[str] = []
    given: dict[tuple[str, str, str], tuple[str, StaticPrincipal]] = {}
    roles: dict[tuple[str, str], tuple[str, StaticPrincipal]] = {}
    for listener in listeners:
        for p in listener.own:
            first = given.setdefault((p.realm, p.authid, p.method), (listener.where, p))
            if first[1] != p:
                what = ("roles" if first[1].role != p.role else
                        {"ticket": "tickets", "wampcra": "secrets"}.get(p.method, "credentials"))
                problems.append(f"{p.method} principal {p.authid!r} (realm {p.realm!r}): {first[0]} and "
                                f"{listener.where} give it different {what}")
            other = roles.setdefault((p.realm, p.authid), (listener.where, p))
            if other[1].role != p.role and other[1].method != p.method:
                problems.append(f"principal {p.authid!r} (realm {p.realm!r}): {other[0]} gives it role "
                                f"{other[1].role!r} for {other[1].method}, {listener.where} role {p.role!r} "
                                f"for {p.method}")
    for listener in listeners:
        own = {(p.realm, p.authid) for p in listener.own}
        widened = sorted({(realm, authid, where)
                          for (realm, authid, method), (where, _) in given.items()
                          if method == listener.method and realm in listener.realms and (realm, authid) not in own})
        problems += [f"{listener.method} principal {authid!r} (realm {realm!r}) of {where} could then log in on "
                     f"{listener.where} too, which does not list it" for realm, authid, where in widened]
    return list(dict.fromkeys(problems))


def plan(config: Mapping[str, Any], cbdir: str) -> Plan:
    """The conversion of a stock node config (the input is not changed).

    AdoptError when the static principals of the transports differ (see _scope_problems).
    """
    new = copy.deepcopy(dict(config))
    result = Plan(new, [], [], [], [])
    listeners: list[_Listener] = []
    authenticator: dict[str, Any] = {"type": "function", "create": AUTHENTICATOR, "config": {"path": DB_PATH}}
    for w, worker in enumerate(routers(new)):
        realms = [r["name"] for r in worker.get("realms") or [] if isinstance(r.get("name"), str)]
        for realm in worker.get("realms") or []:
            store = realm.get("store")
            if isinstance(store, dict) and store.get("type") in _STOCK_REALM_STORES:
                if store["type"] == "cfxdb" and isinstance(store.get("path"), str):
                    result.realm_sources.append((resolve_path(store["path"], cbdir), rules_of(store)))
                realm["store"] = {"type": STORE_TYPE, "path": DB_PATH,
                                  **{k: store[k] for k in _REALM_STORE_KEPT if k in store}}
                result.changes.append(f"realm {realm.get('name')!r}: {store['type']} realm store -> cfxstore "
                                      f"({len(store.get('event-history') or [])} event-history rule(s) kept)")
        for t, transport in enumerate(worker.get("transports") or []):
            services = list(websocket_configs(transport))
            for i, ws in enumerate(services):
                where = f"workers[{w}].transports[{t}]" + (f" (WebSocket service {i + 1})" if len(services) > 1 else "")
                cookie = ws.get("cookie")
                store = cookie.get("store") if isinstance(cookie, dict) else None
                if isinstance(cookie, dict) and isinstance(store, dict) and store.get("type") in _STOCK_COOKIE_STORES:
                    if store["type"] == "database" and isinstance(store.get("path"), str):
                        result.cookie_sources.append(resolve_path(store["path"], cbdir))
                    cookie["store"] = {"type": STORE_TYPE, "path": DB_PATH,
                                       **({"purge_on_startup": store["purge_on_startup"]}
                                          if "purge_on_startup" in store else {})}
                    result.changes.append(f"{where}: {store['type']} cookie store -> cfxstore")
                auth = ws.get("auth")
                if not isinstance(auth, dict):
                    continue
                for method in ("ticket", "wampcra", *STORED_METHODS, "cryptosign"):
                    item = auth.get(method)
                    if isinstance(item, dict) and item.get("create") == AUTHENTICATOR:
                        listeners.append(_Listener(where, method, realms, []))  # already on the store
                    # A static cryptosign item with "trustroots" instead of principals is left as it is.
                    if isinstance(item, dict) and item.get("type") == "static" and (
                            method != "cryptosign" or "principals" in item):
                        principals = _static_principals(method, item, realms, where)
                        listeners.append(_Listener(where, method, realms, principals))
                        result.principals += [p for p in principals if p not in result.principals]
                        auth[method] = authenticator  # one object: every method shares one config
                        how = {"cryptosign": "public keys"}.get(method, "as stored" if method in STORED_METHODS
                                                                else "hashed")
                        result.changes.append(f"{where}: {len({p.authid for p in principals})} static {method} "
                                              f"principal(s) -> credential store ({how}); function authenticator")
    problems = _scope_problems(listeners)
    if problems:
        raise AdoptError("the transports' static principals differ, and converted transports share one "
                         "credential store, so adopting would let principals log in where the stock node "
                         "refuses them:\n" + "\n".join(f"  - {p}" for p in problems) +
                         "\ngive every transport (and WebSocket service) the same static principals, or run "
                         "the listeners that need others as a node of their own, and run again; nothing was "
                         "changed")
    _decoys_like(authenticator["config"], [p for p in result.principals if p.method == "wampcra"])
    return result


def _decoys_like(config: dict[str, Any], users: list[StaticPrincipal]) -> None:
    """Unknown authids get WAMP-CRA challenges shaped like the real users' (salted ones' parameters)."""
    salted = [u for u in users if u.salt]
    if not salted:
        return
    first = salted[0]
    roles = [u.role for u in users]
    config["wampcra"] = {"iterations": first.iterations, "keylen": first.keylen,
                         "decoy_role": max(sorted(set(roles)), key=roles.count)}


def _atomic_write(path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".adopt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    atomic.fsync_path(directory)


def _backup(cbdir: str, text: str) -> str:
    """config.json.stock-<digest>: the stock config, owner-readable only (it holds the stock secrets)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = os.path.join(cbdir, f"config.json.stock-{digest}")
    if not os.path.exists(path):
        _atomic_write(path, text, 0o600)
    return path


def _static_keys(p: Mapping[str, Any], realms: list[str], where: str, authid: str) -> StaticPrincipal:
    """A static cryptosign principal: its realm (Crossbar lets one without a realm join any) and keys."""
    realm = p.get("realm")
    if not isinstance(realm, str):
        if len(realms) != 1:
            raise AdoptError(f"{where} names no realm and its router worker has {len(realms)}; a key belongs to "
                             "one cfxstore principal: give it a realm and run again")
        realm = realms[0]
    keys = p.get("authorized_keys")
    if not isinstance(keys, list) or not keys:
        raise AdoptError(f"{where}.authorized_keys is missing or empty")
    pubkeys = []
    for i, key in enumerate(keys):
        try:
            pubkeys.append(parse_pubkey(key, f"{where}.authorized_keys[{i}]"))
        except InvalidArgument as exc:
            raise AdoptError(str(exc)) from None
    return StaticPrincipal(realm=realm, authid=authid, role=p["role"], method="cryptosign", secret="",
                           pubkeys=tuple(pubkeys))


def _write_principals(db: Any, principals: list[StaticPrincipal]) -> list[str]:
    mgmt = Management(db)
    service = mgmt.credentials
    done = []
    for p in principals:
        existing = service.get_principal(p.realm, p.authid)
        changed = existing is None
        if existing is None:
            existing = mgmt.principals.create(realm=p.realm, authid=p.authid, role=p.role)
        elif existing.role != p.role:
            raise AdoptError(f"principal {p.authid!r} on realm {p.realm!r} already exists in the store "
                             f"with role {existing.role!r}, the config says {p.role!r}")
        # Unchanged secrets are left alone: setting one again would end the principal's logins.
        if p.config is not None:
            current = service.stored_credential(p.method, p.realm, p.authid)
            if current is None or current[1] != p.config:
                mgmt.principals.set_credential(existing.oid, p.method, p.config)
                changed = True
        elif p.method == "cryptosign":
            changed = _add_keys(mgmt, existing, p) or changed
        elif p.method == "ticket":
            if service.verify_ticket(p.realm, p.authid, p.secret) is None:
                mgmt.principals.set_secret(existing.oid, "ticket", p.secret)
                changed = True
        else:
            stored = service.get_wampcra(p.realm, p.authid)
            if stored is None or not _same_cra(stored, p):
                mgmt.principals.set_secret(existing.oid, "wampcra", p.secret, salt=p.salt, iterations=p.iterations,
                                           keylen=p.keylen if p.keylen else 32)
                changed = True
        if changed:  # after the principal's own (audited) writes; a re-run that changes nothing adds nothing
            event = AuditEvent(kind="adoption", action="principal adopted", realm=p.realm, authid=p.authid,
                               method=p.method, detail={"role": p.role})
            mgmt.transact(lambda txn: mgmt.audit.record(txn, event))
        done.append(f"{p.method} principal {p.authid!r} (role {p.role!r}) on realm {p.realm!r}")
    return done


def _add_keys(mgmt: Management, principal: Any, p: StaticPrincipal) -> bool:
    """Add the keys the principal does not hold yet; whether it had to."""
    held = {k.pubkey for k in mgmt.principals.keys(principal.oid)}
    added = False
    for key in p.pubkeys:
        if key not in held:
            try:
                mgmt.principals.add_key(principal.oid, key)
            except AlreadyExists as exc:
                raise AdoptError(f"principal {p.authid!r} on realm {p.realm!r}: {exc}") from None
            added = True
    return added


def _same_cra(stored: Mapping[str, Any], p: StaticPrincipal) -> bool:
    if p.salt is None or p.iterations is None or p.keylen is None or stored.get("salt") != p.salt:
        return False
    key = wampcra_key(p.secret, p.salt, p.iterations, p.keylen)
    return bool(stored.get("secret") == key and stored.get("iterations") == p.iterations)


@dataclasses.dataclass
class Report:
    backup: str | None
    changes: list[str]
    imported: dict[str, Any]
    principals: list[str]


def adopt(cbdir: str, short_cookie_life: int = SHORT_COOKIE_LIFE) -> Report:
    """Convert the stock node in cbdir to cfxstore; a converted node is left as it is.

    Imported cookies whose values carry under 128 bits live at most short_cookie_life seconds.
    """
    cbdir = os.path.abspath(cbdir)
    pid = running_pid(cbdir)
    if pid is not None:
        raise AdoptError(f"the node in {cbdir} is running (pid {pid}); stop it first")
    path = config_path(cbdir)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        config = json.loads(text)
    except FileNotFoundError:
        raise AdoptError(f"no config.json in node directory {cbdir}") from None
    except ValueError as exc:
        raise AdoptError(f"{path} is not valid JSON: {exc}") from None
    todo = plan(config, cbdir)
    if todo.empty:
        return Report(None, [], {}, [])
    backup = _backup(cbdir, text)
    crashpoint.reached("adopt-backed-up")
    for source in todo.cookie_sources:
        if os.path.exists(source):
            check_sources(source, None)
    for source, _ in todo.realm_sources:
        if os.path.exists(source):
            check_sources(None, source)
    imported: dict[str, Any] = {}
    database, _ = open_or_create(os.path.join(cbdir, DB_PATH))
    with database:
        principals = _write_principals(database, todo.principals)
        crashpoint.reached("adopt-principals-stored")
        for source in todo.cookie_sources:
            if os.path.exists(source):  # a stock store that never wrote has no database yet
                name = f"cookies ({os.path.relpath(source, cbdir)})"
                imported[name] = import_cookies(source, database, short_life=short_cookie_life)
        for source, rules in todo.realm_sources:
            if os.path.exists(source):
                for name, result in import_realmstore(source, database, history=rules).items():
                    imported[f"{name} ({os.path.relpath(source, cbdir)})"] = result
    crashpoint.reached("adopt-imported")
    _atomic_write(path, json.dumps(todo.config, indent=2) + "\n", 0o600)
    return Report(backup, todo.changes, imported, principals)
