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

from cfxstore.node.config import DEFAULT_DB_PATH, DatabaseConfig, resolve_path
from cfxstore.node.errors import RouterConfigError
from cfxstore.router.services import node_services

__all__ = ["ComponentConfig", "EXTRA_KEYS", "extra_problems", "parse_extra", "component_config", "shared_database", "INTERNAL_ERROR"]

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


#: Keys of the "extra"; Crossbar adds "cbdir" (the node directory) to a router component's extra.
EXTRA_KEYS = ("path", "prefix", "procedure", "admin_roles", "store_realm", "cbdir")


def extra_problems(extra: Any, key: str = "components[].extra") -> list[tuple[str, str]]:
    """Every problem of a management or authorizer component's "extra" as (key path, message)."""
    extra = {} if extra is None else extra
    if not isinstance(extra, Mapping):
        return [(key, f"expected a dict, got {type(extra).__name__}")]
    problems = [(f"{key}.{name}", f"unknown key; known keys are {', '.join(sorted(EXTRA_KEYS))}")
                for name in sorted(set(extra) - set(EXTRA_KEYS), key=str)]
    for name in ("path", "prefix", "procedure", "store_realm"):
        value = extra.get(name)
        if (value is not None or name in extra) and (not isinstance(value, str) or not value):
            problems.append((f"{key}.{name}", f"expected a non-empty string, got {value!r}"))
    prefix = extra.get("prefix", DEFAULT_PREFIX)
    if isinstance(prefix, str) and prefix and not prefix.endswith("."):
        problems.append((f"{key}.prefix", f"expected a URI prefix ending in '.', got {prefix!r}"))
    roles = extra.get("admin_roles", ["admin"])
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        problems.append((f"{key}.admin_roles", f"expected a non-empty list of role names, got {roles!r}"))
    return problems


def parse_extra(extra: Any, key: str = "components[].extra") -> ComponentConfig:
    """The validated "extra" of a management or authorizer component (RouterConfigError: the first problem)."""
    problems = extra_problems(extra, key)
    if problems:
        raise RouterConfigError(*problems[0])
    extra = extra or {}
    cbdir = extra.get("cbdir") if isinstance(extra.get("cbdir"), str) else os.getcwd()
    return ComponentConfig(path=resolve_path(extra.get("path", DEFAULT_DB_PATH), cbdir),
                           prefix=extra.get("prefix", DEFAULT_PREFIX),
                           procedure=extra.get("procedure", DEFAULT_AUTHORIZER),
                           admin_roles=frozenset(extra.get("admin_roles", ["admin"])),
                           store_realm=extra.get("store_realm"))


def shared_database(path: str) -> Any:
    """This process's handle of the database at an absolute path."""
    return node_services(path, DatabaseConfig(path=path)).db


def component_config(session: Any) -> ComponentConfig | None:
    """The session's validated "extra"; a bad one is logged and the session leaves (None)."""
    try:
        return parse_extra(session.config.extra)
    except RouterConfigError as exc:
        session.log.error("{msg}", msg=str(exc))
        session.leave("cfxstore.error.invalid_configuration", str(exc))
        return None
