"""Finding a node's cfxstore database(s) from its node directory (``--cbdir``).

Locations are returned as the strings the node config gives, resolved against
the node directory, so a location that is not a local path (a database URL)
can be returned the same way.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from cfxstore.errors import Error
from cfxstore.node import nodeconfig
from cfxstore.node.config import DEFAULT_DB_PATH, STORE_TYPE, resolve_path

CONFIG_FILES = ("config.json", "config.yaml")


class NodeConfigError(Error, ValueError):
    """A node directory or its config that cannot be used; the message names the file."""


def is_node_dir(path: str) -> bool:
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, f)) for f in CONFIG_FILES)


def load_node_config(cbdir: str) -> dict[str, Any]:
    """The node config of cbdir, with errors that name the file and what to do."""
    if not os.path.isdir(cbdir):
        raise NodeConfigError(f"no node directory at {cbdir}"
                              + (" (it is a file)" if os.path.exists(cbdir) else
                                 "; create one with `cfxstore router init --cbdir DIR`"))
    path = next((os.path.join(cbdir, f) for f in CONFIG_FILES if os.path.exists(os.path.join(cbdir, f))),
                nodeconfig.config_path(cbdir))
    try:
        config = nodeconfig.load_config(cbdir)
    except FileNotFoundError:
        raise NodeConfigError(f"node directory {cbdir} has no config.json or config.yaml; "
                              f"write one with `cfxstore router init --cbdir {cbdir}`") from None
    except json.JSONDecodeError as exc:
        raise NodeConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except UnicodeDecodeError:
        raise NodeConfigError(f"{path} is not UTF-8 text") from None
    except IsADirectoryError:
        raise NodeConfigError(f"{path} is a directory, not a config file") from None
    except PermissionError:
        raise NodeConfigError(f"{path} cannot be read (permission denied)") from None
    except ImportError:
        raise NodeConfigError(f"{path} is YAML and PyYAML is not installed; use config.json") from None
    except Exception as exc:  # a YAML parser error: its class lives in an optional package
        raise NodeConfigError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(config, dict):
        raise NodeConfigError(f"{path}: expected an object at the top level, got {type(config).__name__}")
    return config


def _store_path(item: Any) -> str | None:
    if isinstance(item, Mapping) and item.get("type") == STORE_TYPE:
        path = item.get("path", DEFAULT_DB_PATH)
        return path if isinstance(path, str) else None
    return None


def node_databases(cbdir: str) -> list[str]:
    """Every cfxstore database location the node config of cbdir uses (realm stores, cookies, credentials)."""
    config = load_node_config(cbdir)
    found = set(nodeconfig.cookie_databases(config, cbdir)) | set(nodeconfig.credential_databases(config, cbdir))
    for realm in nodeconfig.realms(config):
        path = _store_path(realm.get("store")) if isinstance(realm, Mapping) else None
        if path is not None:
            found.add(resolve_path(path, cbdir))
    return sorted(found)


def node_database(cbdir: str) -> str:
    """The one cfxstore database of the node in cbdir; NodeConfigError if it has none or several."""
    found = node_databases(cbdir)
    if not found:
        raise NodeConfigError(f"the node config in {cbdir} uses no cfxstore database "
                              f"(no store, cookie store or authenticator of type {STORE_TYPE!r})")
    if len(found) > 1:
        raise NodeConfigError(f"the node in {cbdir} uses {len(found)} cfxstore databases "
                              f"({', '.join(found)}); choose one with --db")
    return found[0]


def refuse_node_dir(path: str) -> None:
    """NodeConfigError if path, given as a database, is a node directory (explaining what to give instead)."""
    if is_node_dir(path) and not os.path.isfile(os.path.join(path, "data.mdb")):
        try:
            hint = f"; its database: {node_database(path)}"
        except NodeConfigError:
            hint = ""
        raise NodeConfigError(f"{path} is a node directory, not a database: use --cbdir {path}{hint}")


def default_node_database() -> str | None:
    """The database of the node in ./.crossbar (errors if unusable), else of a cfxstore node in ".", else None."""
    if is_node_dir(".crossbar"):
        return node_database(os.path.abspath(".crossbar"))
    if is_node_dir("."):
        try:
            return node_database(os.path.abspath("."))
        except NodeConfigError:  # some other program's config.json
            return None
    return None
