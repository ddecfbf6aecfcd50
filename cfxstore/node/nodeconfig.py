"""The default node configuration, and finding cfxstore databases in a node config."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, Mapping

from cfxstore.node.config import DEFAULT_DB_PATH, STORE_TYPE, is_cfxstore_cookie, resolve_path

CONFIG_FILE = "config.json"
AUTHENTICATOR = "cfxstore.router.auth.create_authenticator"
REVOCATION_COMPONENT = "cfxstore.router.revoke.CookieRevocation"
ADMIN_ROLE = "admin"

_ALL = {"call": True, "register": True, "publish": True, "subscribe": True}
_NONE = {"call": False, "register": False, "publish": False, "subscribe": False}


def default_config(*, host: str = "127.0.0.1", port: int = 8080, realm: str = "realm1",
                   db: str = DEFAULT_DB_PATH) -> dict[str, Any]:
    """One realm, WebSocket on host:port, ticket/WAMP-CRA + cookie auth and history in cfxstore."""
    authenticator = {"type": "function", "create": AUTHENTICATOR, "config": {"path": db}}
    return {
        "version": 2,
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{
                "name": realm,
                # A prefix or wildcard subscription or registration only where every URI it can
                # match is allowed (docs/router.md, "Strict matching").
                "options": {"strict_match": True},
                "roles": [
                    {"name": "user", "permissions": [
                        {"uri": "", "match": "prefix", "allow": _ALL, "disclose": {"caller": False,
                                                                                  "publisher": False},
                         "cache": True},
                        # cfxstore's own procedures are for admins only.
                        {"uri": "cfxstore.", "match": "prefix", "allow": _NONE, "cache": True},
                    ]},
                    {"name": ADMIN_ROLE, "permissions": [
                        {"uri": "", "match": "prefix", "allow": _ALL, "disclose": {"caller": True,
                                                                                  "publisher": True},
                         "cache": True},
                    ]},
                    {"name": "cfxstore", "permissions": [
                        {"uri": "cfxstore.", "match": "prefix", "allow": {**_NONE, "register": True},
                         "cache": True},
                    ]},
                ],
                "store": {
                    "type": STORE_TYPE,
                    "path": db,
                    "event-history": [{"uri": "com.example.", "match": "prefix"}],
                    "retention": {"max-age": 30 * 86400},
                },
            }],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "interface": host, "port": port},
                "cookie": {"name": "cbtid", "max_age": 7 * 86400, "http_strict": True,
                           "store": {"type": STORE_TYPE, "path": db}},
                "auth": {"ticket": authenticator, "wampcra": authenticator, "cryptosign": authenticator, "cookie": {}},
            }],
            "components": [{
                "type": "class",
                "classname": REVOCATION_COMPONENT,
                "realm": realm,
                "role": "cfxstore",
                "extra": {"allowed_roles": [ADMIN_ROLE]},
            }],
        }],
    }


def config_path(cbdir: str) -> str:
    return os.path.join(cbdir, CONFIG_FILE)


def load_config(cbdir: str) -> dict[str, Any]:
    """The node's config.json (cfxstore writes JSON; YAML nodes need PyYAML)."""
    path = config_path(cbdir)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    yaml_path = os.path.join(cbdir, "config.yaml")
    if os.path.exists(yaml_path):
        import yaml  # PyYAML comes with Crossbar; only a node configured in YAML needs it

        with open(yaml_path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    raise FileNotFoundError(f"no config.json or config.yaml in node directory {cbdir}")


def write_config(cbdir: str, config: Mapping[str, Any]) -> str:
    os.makedirs(cbdir, exist_ok=True)
    path = config_path(cbdir)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=4)
        f.write("\n")
    return path


def _websocket_configs(transport: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    kind = transport.get("type")
    if kind == "websocket":
        yield transport
    if kind == "universal":
        yield from (transport.get("websocket") or {}).values()
        yield from _path_services((transport.get("web") or {}).get("paths") or {})
    if kind == "web":
        yield from _path_services(transport.get("paths") or {})


def _path_services(paths: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for service in paths.values():
        if isinstance(service, Mapping):
            if service.get("type") == "websocket":
                yield service
            elif service.get("type") == "path":
                yield from _path_services(service.get("paths") or {})


def _routers(config: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for worker in config.get("workers") or []:
        if isinstance(worker, Mapping) and worker.get("type") == "router":
            yield worker


def cookie_databases(config: Mapping[str, Any], cbdir: str) -> list[str]:
    """Absolute paths of every cfxstore cookie database the node config uses."""
    paths = set()
    for router in _routers(config):
        for transport in router.get("transports") or []:
            for ws in _websocket_configs(transport):
                cookie: Any = ws.get("cookie")
                if is_cfxstore_cookie(cookie):
                    paths.add(resolve_path(cookie["store"].get("path", DEFAULT_DB_PATH), cbdir))
    return sorted(paths)


def credential_databases(config: Mapping[str, Any], cbdir: str) -> list[str]:
    """Absolute paths of the databases the cfxstore authenticator reads principals from."""
    paths = set()
    for router in _routers(config):
        for transport in router.get("transports") or []:
            for ws in [transport, *_websocket_configs(transport)]:
                for item in (ws.get("auth") or {}).values():
                    if isinstance(item, Mapping) and item.get("create") == AUTHENTICATOR:
                        paths.add(resolve_path((item.get("config") or {}).get("path", DEFAULT_DB_PATH), cbdir))
    return sorted(paths)


def realms(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [realm for router in _routers(config) for realm in router.get("realms") or []]
