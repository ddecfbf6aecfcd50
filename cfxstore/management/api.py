"""The management API as plain functions over wire-form values, ready to register on WAMP.

``procedures(mgmt)`` maps procedure names (without the URI prefix) to
functions. Each validates its arguments, calls the service, and returns
wire-form records (wire.py); refusals raise ManagementError subclasses,
whose ``uri`` is the WAMP error they become. Each waits for the database
(and some hash secrets): a component on an event loop runs them in a pool,
as cfxstore/router/management.py does with cfxstore.nonblocking.

Per record kind (user, organization, organization_role, mrealm, mrealm_role,
node, arealm, role, permission, arealm_role, principal, routercluster,
routercluster_node, webcluster, webcluster_node):

    <kind>.create(fields)            -> record
    <kind>.get(key)                  -> record       key: UUID string, or [UUID, UUID]
    <kind>.get_by(name)              -> record       kinds with a unique name (see docs)
    <kind>.list(limit=, after=, <filter>=)  -> {"items": [record...], "next": cursor | None}
    <kind>.update(key, changes)      -> record
    <kind>.delete(key)               -> record       (refuse / cascade rules apply)

and principal.create(fields, ticket=, wampcra=, scram=, tls=),
principal.set_secret(key, method, secret), principal.set_credential(key,
method, config), principal.remove_secret(key, method), principal.credentials(key),
principal.disable(key) and principal.enable(key), the cryptosign key procedures
of key_api.py (principal.keys, principal.add_key, principal.revoke_key); session.get(session_id),
session.by_authid(authid, limit=), event.by_subscription(subscription_id,
limit=), publication.by_topic(topic, limit=), cookie.revoke_by_authid(authid),
cookie.by_authid(authid, limit=) (an authid's logins, one per device) and
cookie.revoke(cookie_id) (one of them), and audit.list(authid=, kind=, since=, until=, limit=) of
audit_api.py (security events).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, cast

from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import CookieService
from cfxstore.management.audit_api import audit_procedures
from cfxstore.management.errors import InvalidArgument
from cfxstore.management.key_api import key_procedures
from cfxstore.management.service import Management
from cfxstore.management.store import Collection
from cfxstore.management.wire import from_wire, ns_to_iso, to_wire
from cfxstore.mrealm.entities import Principal
from cfxstore.realmstore.service import SessionHistory

__all__ = ["procedures", "device", "CHANGE_TOPIC"]

#: Topic (without prefix) a change is published on: <kind>.on_created / on_updated / on_deleted.
CHANGE_TOPIC = "{kind}.on_{op}"


def procedures(mgmt: Management, *, revoke: Callable[[str], Any] | None = None) -> dict[str, Callable[..., Any]]:
    """Every management procedure by name.

    ``revoke(authid)`` revokes cookies where the database alone cannot (closing the
    connections of a router worker); returning None falls back to deleting them here.
    """
    procs: dict[str, Callable[..., Any]] = {}
    for name, coll in mgmt.collections().items():
        if not coll.kind.internal:
            procs.update(_record_procedures(name, coll))
    procs.update(_principal_procedures(mgmt))
    procs.update(key_procedures(mgmt.principals))
    procs.update(audit_procedures(lambda: mgmt.audit))
    procs.update(_history_procedures(mgmt, revoke))
    return procs


def _record_procedures(name: str, coll: Collection) -> dict[str, Callable[..., Any]]:
    cls = coll.kind.entity

    def create(fields: dict) -> dict:
        return to_wire(coll.create(**from_wire(cls, fields)))

    def get(key: Any) -> dict:
        return to_wire(coll.get(key))

    def list_(limit: int = 100, after: str | None = None, **filters: Any) -> dict:
        page = coll.list(limit=limit, after=after, **filters)
        return {"items": [to_wire(r) for r in page.items], "next": page.next}

    def update(key: Any, changes: dict) -> dict:
        return to_wire(coll.update(key, **from_wire(cls, changes)))

    def delete(key: Any) -> dict:
        return to_wire(coll.delete(key))

    procs: dict[str, Callable[..., Any]] = {f"{name}.create": create, f"{name}.get": get, f"{name}.list": list_,
                                            f"{name}.update": update, f"{name}.delete": delete}
    unique = coll.kind.unique[0] if coll.kind.unique else None
    if unique is not None and "oid" not in unique.label:
        def get_by(index_key: Any) -> dict:
            if isinstance(index_key, list):
                index_key = tuple(index_key)
            if not (isinstance(index_key, str) or isinstance(index_key, tuple)
                    and all(isinstance(p, str) for p in index_key)):
                raise InvalidArgument(f"{name}.get_by: expected {unique.label} as a string (or list of strings)")
            return to_wire(coll.get_by(index_key))

        procs[f"{name}.get_by"] = get_by
    return procs


def _principal_procedures(mgmt: Management) -> dict[str, Callable[..., Any]]:
    principals = mgmt.principals
    cls = principals.kind.entity

    def create(fields: dict, ticket: str | None = None, wampcra: str | None = None, scram: str | None = None,
               tls: dict | None = None) -> dict:
        return to_wire(principals.create(ticket=ticket, wampcra=wampcra, scram=scram, tls=tls,
                                         **from_wire(cls, fields)))

    def stored(key: Any, method: str) -> dict:
        principal = cast(Principal, principals.get(key))
        return {"principal": str(principal.oid), "authmethod": method}

    def set_secret(key: Any, method: str, secret: str) -> dict:
        principals.set_secret(key, method, secret)
        return stored(key, method)

    def set_credential(key: Any, method: str, config: dict) -> dict:
        principals.set_credential(key, method, config)
        return stored(key, method)

    def remove_secret(key: Any, method: str) -> dict:
        removed = principals.remove_secret(key, method)
        principal = cast(Principal, principals.get(key))
        return {"principal": str(principal.oid), "authmethod": method, "removed": removed}

    def credentials(key: Any) -> list:
        return [{**c, "created": ns_to_iso(c["created"]), "modified": ns_to_iso(c["modified"])}
                for c in principals.credentials(key)]

    def disable(key: Any) -> dict:
        return to_wire(principals.disable(key))

    def enable(key: Any) -> dict:
        return to_wire(principals.enable(key))

    return {"principal.create": create, "principal.set_secret": set_secret, "principal.set_credential": set_credential,
            "principal.remove_secret": remove_secret, "principal.credentials": credentials,
            "principal.disable": disable, "principal.enable": enable}


def _history_procedures(mgmt: Management, revoke: Callable[[str], Any] | None) -> dict[str, Callable[..., Any]]:
    services: dict[type, Any] = {}

    def service(kind: type) -> Any:
        if kind not in services:
            services[kind] = kind(mgmt.db)
        return services[kind]

    def session_get(session_id: int) -> dict | None:
        _require_id("session_id", session_id)
        s = service(SessionHistory).get_session(session_id)
        return None if s is None else to_wire(s)

    def session_by_authid(authid: str, limit: int = 100) -> list:
        _require_name("authid", authid)
        _require_limit(limit)
        return [to_wire(s) for s in service(SessionHistory).sessions_by_authid(authid, limit=limit)]

    def events(subscription_id: int, limit: int = 100) -> list:
        _require_id("subscription_id", subscription_id)
        _require_limit(limit)
        return [to_wire(e) for e in service(SessionHistory).events(subscription_id, limit=limit)]

    def publications(topic: str, limit: int = 100) -> list:
        _require_name("topic", topic)
        _require_limit(limit)
        return [to_wire(p) for p in service(SessionHistory).publications_by_topic(topic, limit=limit)]

    def revoke_by_authid(authid: str) -> dict:
        _require_name("authid", authid)
        done = revoke(authid) if revoke is not None else None
        if done is not None:
            return done
        return {"authid": authid, "cookies_deleted": len(service(CookieService).revoke_authid(authid))}

    def cookies_by_authid(authid: str, limit: int = 100) -> list:
        _require_name("authid", authid)
        _require_limit(limit)
        return [device(c) for c in service(CookieService).cookies_by_authid(authid)[:limit]]

    def revoke_cookie(cookie_id: str) -> dict:
        try:
            oid = uuid.UUID(cookie_id) if isinstance(cookie_id, str) else None
        except ValueError:
            oid = None
        if oid is None:
            raise InvalidArgument(f"cookie_id: expected a cookie id (a UUID string), got {cookie_id!r}")
        cookie = service(CookieService).revoke(oid)
        return {"id": cookie_id, "authid": None if cookie is None else cookie.authid,
                "cookies_deleted": 0 if cookie is None else 1}

    return {"session.get": session_get, "session.by_authid": session_by_authid, "event.by_subscription": events,
            "publication.by_topic": publications, "cookie.revoke_by_authid": revoke_by_authid,
            "cookie.by_authid": cookies_by_authid, "cookie.revoke": revoke_cookie}


def device(cookie: Cookie) -> dict[str, Any]:
    """One login of an authid as listed: when and where it was made and used, never the cookie's value."""
    def iso(ns: int | None) -> str | None:
        return None if ns is None else ns_to_iso(ns)

    return {"id": str(cookie.oid), "authid": cookie.authid, "realm": cookie.authrealm, "role": cookie.authrole,
            "authmethod": cookie.authmethod, "created": iso(cookie.created), "last_login": iso(cookie.last_login),
            "expires": iso(cookie.expires), "peer": cookie.peer, "user_agent": cookie.user_agent}


def _require_id(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise InvalidArgument(f"{name}: expected a WAMP id (an int in 0..2**64-1), got {value!r}")


def _require_name(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{name}: expected a non-empty string, got {value!r}")


def _require_limit(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise InvalidArgument(f"limit: expected an int in 1..1000, got {value!r}")
