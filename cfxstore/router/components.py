"""What the management and authorizer components share: their "extra" config and the database.

Both run either inside a cfxstore router worker ("components" of the node
config) or standalone against any Crossbar router (standalone.py). Inside a
worker they share the worker's handle of the database (an LMDB environment
must be opened once per process).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

from cfxstore.router.config import DEFAULT_DB_PATH, DatabaseConfig, resolve_path
from cfxstore.router.errors import RouterConfigError

__all__ = ["ComponentConfig", "parse_extra", "component_config", "shared_database", "INTERNAL_ERROR"]

INTERNAL_ERROR = "cfxstore.error.internal"
DEFAULT_PREFIX = "cfxstore.mgmt."
DEFAULT_AUTHORIZER = "cfxstore.authorize"


@dataclasses.dataclass(frozen=True)
class ComponentConfig:
    path: str
    prefix: str = DEFAULT_PREFIX
    procedure: str = DEFAULT_AUTHORIZER
    admin_roles: frozenset[str] = frozenset({"admin"})
    store_realm: str | None = None


def parse_extra(extra: Any, key: str = "components[].extra") -> ComponentConfig:
    """The validated "extra" of a management or authorizer component."""
    extra = {} if extra is None else extra
    if not isinstance(extra, Mapping):
        raise RouterConfigError(key, f"expected a dict, got {type(extra).__name__}")
    # Crossbar adds "cbdir" (the node directory) to a router component's extra.
    known = {"path", "prefix", "procedure", "admin_roles", "store_realm", "cbdir"}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise RouterConfigError(f"{key}.{unknown[0]}", f"unknown key; known keys are {', '.join(sorted(known))}")
    path = extra.get("path", DEFAULT_DB_PATH)
    for name in ("path", "prefix", "procedure", "store_realm"):
        value = extra.get(name, path if name == "path" else None)
        if value is not None and (not isinstance(value, str) or not value):
            raise RouterConfigError(f"{key}.{name}", f"expected a non-empty string, got {value!r}")
    prefix = extra.get("prefix", DEFAULT_PREFIX)
    if not prefix.endswith("."):
        raise RouterConfigError(f"{key}.prefix", f"expected a URI prefix ending in '.', got {prefix!r}")
    roles = extra.get("admin_roles", ["admin"])
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise RouterConfigError(f"{key}.admin_roles", f"expected a non-empty list of role names, got {roles!r}")
    cbdir = extra.get("cbdir") if isinstance(extra.get("cbdir"), str) else os.getcwd()
    return ComponentConfig(path=resolve_path(path, cbdir), prefix=prefix,
                           procedure=extra.get("procedure", DEFAULT_AUTHORIZER), admin_roles=frozenset(roles),
                           store_realm=extra.get("store_realm"))


def shared_database(path: str) -> Any:
    """This process's handle of the database at an absolute path."""
    from cfxstore.router.services import node_services

    return node_services(path, DatabaseConfig(path=path)).db


def component_config(session: Any) -> ComponentConfig | None:
    """The session's validated "extra"; a bad one is logged and the session leaves (None)."""
    try:
        return parse_extra(session.config.extra)
    except RouterConfigError as exc:
        session.log.error("{msg}", msg=str(exc))
        session.leave("cfxstore.error.invalid_configuration", str(exc))
        return None
