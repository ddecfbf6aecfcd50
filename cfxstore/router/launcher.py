"""Create, populate and run a Crossbar node with the cfxstore personality."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import sys
import threading
import time
from typing import Any, Callable, Mapping, NoReturn

from autobahn.twisted import install_reactor

from cfxstore.database import exists
from cfxstore.errors import AlreadyExists, NotFound
from cfxstore.management import Management
from cfxstore.migrate.access import open_existing
from cfxstore.node import nodeconfig
from cfxstore.node.config import DatabaseConfig
from cfxstore.node.paths import NodeConfigError, load_node_config, node_databases
from cfxstore.router.configcheck import config_problems
from cfxstore.router.services import node_services


def is_initialized(cbdir: str) -> bool:
    return any(os.path.exists(os.path.join(cbdir, name)) for name in ("config.json", "config.yaml"))


def init_node(cbdir: str, *, host: str = "127.0.0.1", port: int = 8080, realm: str = "realm1",
              force: bool = False) -> str:
    """Write the default node config into cbdir; returns its path."""
    if is_initialized(cbdir) and not force:
        raise FileExistsError(f"node directory {cbdir} already has a config (use --force to overwrite)")
    return nodeconfig.write_config(cbdir, nodeconfig.default_config(host=host, port=port, realm=realm))


def _credentials(path: str):
    return node_services(path, DatabaseConfig(path=path)).credentials


def add_principal(cbdir: str, *, realm: str, authid: str, role: str, ticket: str | None = None) -> str:
    """Add a principal with a ticket to every cfxstore credential database of the node; returns the ticket."""
    config = load_node_config(cbdir)
    paths = nodeconfig.credential_databases(config, cbdir)
    if not paths:
        raise NotFound(f"the node config in {cbdir} uses no cfxstore authenticator")
    _require_role(config, cbdir, realm, role)
    # A generated ticket (128+ random bits) is stored with the fast hash; one an operator chose with argon2id.
    generated = ticket is None
    ticket = ticket or secrets.token_urlsafe(24)
    for path in paths:
        credentials = _credentials(path)
        # Through the service layer: principal and ticket in one transaction, and in the change feed.
        Management(credentials.db, credentials=credentials).principals.create(
            realm=realm, authid=authid, role=role, ticket=ticket, generated=generated)
    return ticket


def _require_role(config: Mapping[str, Any], cbdir: str, realm: str, role: str) -> None:
    """NodeConfigError unless realm is configured with role (a login with an unknown role always fails)."""
    where = nodeconfig.config_path(cbdir)
    found = [r for r in nodeconfig.realms(config) if isinstance(r, Mapping) and r.get("name") == realm]
    if not found:
        names = ", ".join(repr(r.get("name")) for r in nodeconfig.realms(config) if isinstance(r, Mapping))
        raise NodeConfigError(f"realm {realm!r} is not in {where} (its realms: {names or 'none'})")
    roles = [r.get("name") for r in found[0].get("roles") or [] if isinstance(r, Mapping)]
    # A realm with an authorizer component decides roles at run time: only configured roles can be checked.
    if roles and role not in roles:
        raise NodeConfigError(f"role {role!r} is not configured on realm {realm!r} in {where} "
                              f"(its roles: {', '.join(map(repr, roles))})")


def check_role(cbdir: str, realm: str, role: str) -> None:
    """NodeConfigError unless the node in cbdir configures role on realm."""
    _require_role(load_node_config(cbdir), cbdir, realm, role)


def check_node(cbdir: str) -> dict[str, Any]:
    """The node config, checked completely (Crossbar's checks with cfxstore's keys); NodeConfigError if invalid."""
    config = load_node_config(cbdir)
    import crossbar  # noqa: F401  (applies Crossbar's import-time compatibility shims)

    from cfxstore.router.personality import Personality  # imports Crossbar

    problems = config_problems(Personality, config)
    if len(problems) == 1:
        raise NodeConfigError(f"{nodeconfig.config_path(cbdir)}: {problems[0]}")
    if problems:
        raise NodeConfigError(f"{nodeconfig.config_path(cbdir)} has {len(problems)} problems:\n"
                              + "\n".join(f"  {p}" for p in problems))
    return config


def tcp_endpoints(config: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(interface, port) of every TCP listening endpoint of the node's router workers."""
    found = []
    for worker in config.get("workers") or []:
        for transport in (worker.get("transports") or []) if isinstance(worker, Mapping) else []:
            endpoint = transport.get("endpoint") if isinstance(transport, Mapping) else None
            if isinstance(endpoint, Mapping) and endpoint.get("type") == "tcp" and "port" in endpoint:
                found.append((endpoint.get("interface") or "0.0.0.0", int(endpoint["port"])))
    return found


def require_ports_free(config: Mapping[str, Any], cbdir: str) -> None:
    """NodeConfigError naming the first configured port another process listens on."""
    for host, port in tcp_endpoints(config):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                reason = "is in use by another process" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror}"
                raise NodeConfigError(f"port {port} on {host} {reason}; stop that process or change the "
                                      f"port in {nodeconfig.config_path(cbdir)}") from None


def realm_without_principals(cbdir: str) -> str | None:
    """The node's first realm if the node authenticates from cfxstore and that realm has no principals yet."""
    config = load_node_config(cbdir)
    paths = nodeconfig.credential_databases(config, cbdir)
    realms = nodeconfig.realms(config)
    if not paths or not realms:
        return None
    name = realms[0].get("name")
    # A database not created yet has no principals (and this check must not create it). A PostgreSQL
    # URL is asked whether its schema exists: a path test would find no file and create "admin" each start.
    if any(exists(path) and _credentials(path).list_principals(name) for path in paths):
        return None
    return name


def first_principal(cbdir: str, name: str) -> str:
    """Create "admin" with a one-time ticket on realm name (found empty at start); returns the message to show."""
    config = load_node_config(cbdir)
    realm = next(r for r in nodeconfig.realms(config) if r.get("name") == name)
    roles = {role.get("name") for role in realm.get("roles") or []}
    if nodeconfig.ADMIN_ROLE not in roles:
        return (f"cfxstore: realm {name!r} has no principals yet; add one with\n"
                f"    cfxstore router add-principal --cbdir {cbdir} --realm {name} --role ROLE AUTHID")
    try:
        ticket = add_principal(cbdir, realm=name, authid="admin", role=nodeconfig.ADMIN_ROLE)
    except AlreadyExists:  # another node sharing the database created it since this one looked
        return f"cfxstore: principal 'admin' on realm '{name}' was created by another node; its ticket is shown there"
    url = websocket_url(config)
    return box([
        f"cfxstore: created principal 'admin' (role '{nodeconfig.ADMIN_ROLE}') on realm '{name}'.",
        f"cfxstore: its ticket is shown only this once: {ticket}",
        "",
        f"connect to   {url or 'the WebSocket transport of ' + nodeconfig.config_path(cbdir)}",
        f"realm        {name}",
        "authid       admin (authmethod ticket; browsers then keep a login cookie)",
        "",
        "Autobahn|Python:  Component(transports=URL, realm=REALM,",
        "                      authentication={'ticket': {'authid': 'admin', 'ticket': TICKET}})",
        "Autobahn|JS:      new autobahn.Connection({url: URL, realm: REALM, authmethods: ['ticket'],",
        "                      authid: 'admin', onchallenge: () => TICKET})",
        f"more principals:  cfxstore router add-principal --cbdir {cbdir} --role ROLE AUTHID",
    ])


def websocket_url(config: Mapping[str, Any]) -> str | None:
    """The URL of the node's first plain WebSocket transport (as clients on this host reach it)."""
    for worker in config.get("workers") or []:
        for transport in (worker.get("transports") or []) if isinstance(worker, Mapping) else []:
            endpoint = transport.get("endpoint") if isinstance(transport, Mapping) else None
            if transport.get("type") == "websocket" and isinstance(endpoint, Mapping) and "port" in endpoint:
                host = endpoint.get("interface") or "127.0.0.1"
                host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
                return f"{'wss' if endpoint.get('tls') else 'ws'}://{host}:{endpoint['port']}/"
    return None


def box(lines: list[str]) -> str:
    width = max(map(len, lines))
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def _when_listening(config: Mapping[str, Any], then: Callable[[], None], timeout: float = 300.0) -> None:
    """Call then() in a daemon thread once every TCP endpoint of config accepts connections."""
    endpoints = [("127.0.0.1" if h in ("0.0.0.0", "") else "::1" if h == "::" else h, p)
                 for h, p in tcp_endpoints(config)]

    def listening() -> bool:
        for host, port in endpoints:
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                return False
        return True

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if listening():
                then()
                return
            time.sleep(0.2)

    threading.Thread(target=wait, name="cfxstore-first-start", daemon=True).start()


def revoke(cbdir: str, authid: str) -> int:
    """Delete every cookie of authid from the node's cookie databases; returns how many.

    A running router sees this for new connections within the cookie cache
    time (cache_ttl); to close live connections too, call the router's
    cfxstore.cookie.revoke_by_authid procedure instead.
    """
    total = 0
    for path in nodeconfig.cookie_databases(load_node_config(cbdir), cbdir):
        total += len(node_services(path, DatabaseConfig(path=path)).cookies.revoke_authid(authid))
    return total


def start(cbdir: str, *, loglevel: str = "info") -> NoReturn:
    """Run the node in this process (initializing an empty node directory first).

    The config and the ports are checked first, so ordinary problems end in
    one line; on a node without principals, "admin" is created only once the
    node listens, and its ticket is shown last, in a box.
    """
    cbdir = os.path.abspath(cbdir)
    if not is_initialized(cbdir):
        print(f"cfxstore: initialized node directory {cbdir} ({init_node(cbdir)})", flush=True)

    # Crossbar wants its reactor installed before anything imports twisted.internet.reactor.
    reactor = install_reactor(explicit_reactor=os.environ.get("CROSSBAR_REACTOR"), verbose=False,
                              require_optimal_reactor=False)
    config = check_node(cbdir)
    require_ports_free(config, cbdir)
    for path in node_databases(cbdir):
        if os.path.exists(path):  # a missing one is created by the router; an old one must be migrated first
            open_existing(path, readonly=True).close()

    empty_realm = realm_without_principals(cbdir)
    if empty_realm is not None:
        def show_first_principal() -> None:
            try:
                message = first_principal(cbdir, empty_realm)
            except Exception as exc:  # the node runs on; the operator adds a principal by hand
                message = f"cfxstore: could not create the first principal: {exc}"
            print(message, flush=True)

        _when_listening(config, show_first_principal)

    # Crossbar is optional (the router extra).
    from crossbar.node.main import main

    from cfxstore.router.personality import Personality  # also installs the log filter

    sys.exit(main("cfxstore", ["start", "--cbdir", cbdir, "--loglevel", loglevel], reactor, Personality))
