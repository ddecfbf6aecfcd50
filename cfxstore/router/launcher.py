"""Create, populate and run a Crossbar node with the cfxstore personality."""

from __future__ import annotations

import os
import secrets
import sys
from typing import NoReturn

from cfxstore.router import nodeconfig
from cfxstore.router.config import DatabaseConfig


def is_initialized(cbdir: str) -> bool:
    return any(os.path.exists(os.path.join(cbdir, name)) for name in ("config.json", "config.yaml"))


def init_node(cbdir: str, *, host: str = "127.0.0.1", port: int = 8080, realm: str = "realm1",
              force: bool = False) -> str:
    """Write the default node config into cbdir; returns its path."""
    if is_initialized(cbdir) and not force:
        raise FileExistsError(f"node directory {cbdir} already has a config (use --force to overwrite)")
    return nodeconfig.write_config(cbdir, nodeconfig.default_config(host=host, port=port, realm=realm))


def _credentials(path: str):
    from cfxstore.router.services import node_services

    return node_services(path, DatabaseConfig(path=path)).credentials


def add_principal(cbdir: str, *, realm: str, authid: str, role: str, ticket: str | None = None) -> str:
    """Add a principal with a ticket to every cfxstore credential database of the node; returns the ticket."""
    paths = nodeconfig.credential_databases(nodeconfig.load_config(cbdir), cbdir)
    if not paths:
        raise LookupError(f"the node config in {cbdir} uses no cfxstore authenticator")
    # A generated ticket (128+ random bits) is stored with the fast hash; one an operator chose with argon2id.
    generated = ticket is None
    ticket = ticket or secrets.token_urlsafe(24)
    for path in paths:
        credentials = _credentials(path)
        credentials.add_principal(realm=realm, authid=authid, role=role)
        credentials.set_ticket(realm, authid, ticket, generated=generated)
    return ticket


def first_principal(cbdir: str) -> str | None:
    """On a node without principals, create "admin" with a one-time ticket; returns a message to show."""
    config = nodeconfig.load_config(cbdir)
    paths = nodeconfig.credential_databases(config, cbdir)
    realms = nodeconfig.realms(config)
    if not paths or not realms:
        return None
    realm = realms[0]
    name = realm.get("name")
    if any(_credentials(path).list_principals(name) for path in paths):
        return None
    roles = {role.get("name") for role in realm.get("roles") or []}
    if nodeconfig.ADMIN_ROLE not in roles:
        return (f"cfxstore: realm {name!r} has no principals yet; add one with\n"
                f"    cfxstore router add-principal --cbdir {cbdir} --realm {name} --role ROLE AUTHID")
    ticket = add_principal(cbdir, realm=name, authid="admin", role=nodeconfig.ADMIN_ROLE)
    return (f"cfxstore: created principal 'admin' (role '{nodeconfig.ADMIN_ROLE}') on realm '{name}'.\n"
            f"cfxstore: its ticket is shown only this once: {ticket}")


def revoke(cbdir: str, authid: str) -> int:
    """Delete every cookie of authid from the node's cookie databases; returns how many.

    A running router sees this for new connections within the cookie cache
    time (cache_ttl); to close live connections too, call the router's
    cfxstore.cookie.revoke_by_authid procedure instead.
    """
    from cfxstore.router.services import node_services

    total = 0
    for path in nodeconfig.cookie_databases(nodeconfig.load_config(cbdir), cbdir):
        total += len(node_services(path, DatabaseConfig(path=path)).cookies.revoke_authid(authid))
    return total


def start(cbdir: str, *, loglevel: str = "info") -> NoReturn:
    """Run the node in this process (initializing an empty node directory first)."""
    cbdir = os.path.abspath(cbdir)
    if not is_initialized(cbdir):
        print(f"cfxstore: initialized node directory {cbdir} ({init_node(cbdir)})", flush=True)
    message = first_principal(cbdir)
    if message:
        print(message, flush=True)

    # Crossbar wants its reactor installed before anything imports twisted.internet.reactor.
    from autobahn.twisted import install_reactor

    reactor = install_reactor(explicit_reactor=os.environ.get("CROSSBAR_REACTOR"), verbose=False,
                              require_optimal_reactor=False)
    import crossbar  # noqa: F401  (applies Crossbar's import-time compatibility shims)
    from crossbar.node.main import main

    from cfxstore.router.personality import Personality  # also installs the log filter

    sys.exit(main("cfxstore", ["start", "--cbdir", cbdir, "--loglevel", loglevel], reactor, Personality))
