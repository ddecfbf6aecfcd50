"""Adding the management realm and the store-backed authorizer to a node config."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from cfxstore.node import nodeconfig
from cfxstore.node.config import DEFAULT_DB_PATH
from cfxstore.router.components import DEFAULT_AUTHORIZER, DEFAULT_PREFIX, extra_problems

__all__ = ["add_management", "add_authorizer", "extend_node_config", "component_problems", "MANAGEMENT_COMPONENT", "AUTHORIZER_COMPONENT",
           "SERVICE_ROLE"]

MANAGEMENT_COMPONENT = "cfxstore.router.management.ManagementComponent"
AUTHORIZER_COMPONENT = "cfxstore.router.authorizer.StoreAuthorizerComponent"
SERVICE_ROLE = "cfxstore"

_ALL = {"call": True, "register": True, "publish": True, "subscribe": True}


def _permission(uri: str, allow: Mapping[str, bool], *, disclose: bool = False) -> dict[str, Any]:
    return {"uri": uri, "match": "prefix", "allow": {**dict.fromkeys(_ALL, False), **allow},
            "disclose": {"caller": disclose, "publisher": disclose}, "cache": True}


def _router(config: dict[str, Any]) -> dict[str, Any]:
    return next(w for w in config["workers"] if w.get("type") == "router")


def add_management(config: dict[str, Any], *, realm: str = "mgmt", db: str = DEFAULT_DB_PATH,
                   prefix: str = DEFAULT_PREFIX, admin_roles: Iterable[str] = ("admin",)) -> dict[str, Any]:
    """A management realm whose admin roles may call (with their role disclosed) the management API."""
    router = _router(config)
    admin_roles = list(admin_roles)
    roles = [{"name": r, "permissions": [_permission("", _ALL, disclose=True)]} for r in admin_roles]
    # The component registers the API and publishes changes; readers of the events subscribe.
    roles.append({"name": SERVICE_ROLE, "permissions": [_permission(prefix, {"register": True, "publish": True})]})
    # Strict matching, as on the realm router init writes (router.md, "Strict matching").
    router.setdefault("realms", []).append({"name": realm, "options": {"strict_match": True}, "roles": roles})
    router.setdefault("components", []).append({
        "type": "class", "classname": MANAGEMENT_COMPONENT, "realm": realm, "role": SERVICE_ROLE,
        "extra": {"path": db, "prefix": prefix, "admin_roles": admin_roles},
    })
    return config


def add_authorizer(config: dict[str, Any], *, realm: str, roles: Iterable[str], db: str = DEFAULT_DB_PATH,
                   procedure: str = DEFAULT_AUTHORIZER) -> dict[str, Any]:
    """Let the stored permissions decide for ``roles`` on ``realm`` (an existing realm of the config)."""
    router = _router(config)
    target = next(r for r in router["realms"] if r.get("name") == realm)
    names = set(roles)
    target["roles"] = [r for r in target.get("roles", []) if r.get("name") not in names]
    target["roles"] += [{"name": name, "authorizer": procedure} for name in sorted(names)]
    if not any(r.get("name") == SERVICE_ROLE for r in target["roles"]):
        target["roles"].append({"name": SERVICE_ROLE, "permissions": [_permission(procedure, {"register": True})]})
    router.setdefault("components", []).append({
        "type": "class", "classname": AUTHORIZER_COMPONENT, "realm": realm, "role": SERVICE_ROLE,
        "extra": {"path": db, "procedure": procedure},
    })
    return config


def extend_node_config(cbdir: str, *, management: bool, realm: str, store_roles: Iterable[str]) -> str:
    """Add the management realm and/or store-authorized roles to the node config in cbdir."""
    config = nodeconfig.load_config(cbdir)
    if management:
        add_management(config)
    if store_roles:
        add_authorizer(config, realm=realm, roles=store_roles)
    return nodeconfig.write_config(cbdir, config)


def component_problems(component: Any, path: str) -> list[str]:
    """"path: message" lines for a bad "extra" of a management or authorizer component (else none).

    The components check their "extra" when they join, which is after the node has started;
    the config check runs this first so a bad key is refused before Crossbar starts.
    """
    if not isinstance(component, Mapping) or component.get("classname") not in (MANAGEMENT_COMPONENT,
                                                                                 AUTHORIZER_COMPONENT):
        return []
    return [f"{key}: {message}" for key, message in extra_problems(component.get("extra"), f"{path}.extra")]
