"""``cfxstore router``: create, run and administer a Crossbar node with cfxstore persistence."""

from __future__ import annotations

import os
import sys

import click

from cfxstore.cli.lazy import LazyGroup

_CBDIR = click.option("--cbdir", default=".crossbar", show_default=True, type=click.Path(file_okay=False),
                      help="Node directory.")


@click.group(cls=LazyGroup, lazy={"adopt": "cfxstore.cli.adopt:adopt"})
def router() -> None:
    """Crossbar router with cfxstore cookies, authentication and history."""


@router.command()
@_CBDIR
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the WebSocket listens on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="WebSocket port.")
@click.option("--realm", default="realm1", show_default=True, help="Name of the realm.")
@click.option("--force", is_flag=True, help="Overwrite an existing node config.")
@click.option("--management", is_flag=True, help="Add the management realm \"mgmt\" with the management API.")
@click.option("--store-role", "store_roles", multiple=True, metavar="ROLE",
              help="Authorize ROLE on the realm from the stored permissions (repeatable).")
def init(cbdir: str, host: str, port: int, realm: str, force: bool, management: bool,
         store_roles: tuple[str, ...]) -> None:
    """Write a working default node config."""
    try:
        path = init_node(os.path.abspath(cbdir), host=host, port=port, realm=realm, force=force)
    except FileExistsError as e:
        raise click.ClickException(str(e)) from None
    if management or store_roles:
        extend_node_config(os.path.abspath(cbdir), management=management, realm=realm, store_roles=store_roles)
    click.echo(f"wrote {path}")
    click.echo(f"start the router with: cfxstore router start --cbdir {cbdir}")


@router.command()
@_CBDIR
@click.option("--loglevel", default="info", show_default=True,
              type=click.Choice(["none", "error", "warn", "info", "debug", "trace"]),
              help="Log detail: warn shows only problems, info also what the node starts and listens on.")
def start(cbdir: str, loglevel: str) -> None:
    """Run the router (an empty node directory is initialized first).

    The config and ports are checked first; stop with Ctrl-C or `cfxstore router stop`.
    """
    start_node(cbdir, loglevel=loglevel)


@router.command("add-principal")
@_CBDIR
@click.option("--realm", default="realm1", show_default=True)
@click.option("--role", required=True, help="WAMP role the principal is authenticated with (must be configured).")
@click.option("--choose-ticket", is_flag=True,
              help="Read the ticket from a prompt (or one line of stdin) instead of generating one.")
@click.argument("authid")
def add_principal(cbdir: str, realm: str, role: str, choose_ticket: bool, authid: str) -> None:
    """Add a principal that logs in with a ticket (generated and shown once, unless --choose-ticket)."""
    cbdir = os.path.abspath(cbdir)
    check_role(cbdir, realm, role)  # before asking for a secret
    ticket = read_secret("ticket") if choose_ticket else None
    secret = add(cbdir, realm=realm, authid=authid, role=role, ticket=ticket)
    click.echo(f"added {authid!r} (role {role!r}) on realm {realm!r}")
    if ticket is None:
        click.echo(f"ticket (shown only this once): {secret}")


def read_secret(what: str) -> str:
    """A secret from a hidden, confirmed prompt on a terminal, else one line of stdin (never the command line)."""
    if sys.stdin.isatty():
        value = click.prompt(what.capitalize(), hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.ClickException(f"empty {what}: give it on the prompt or as one line on stdin")
    return value


@router.command()
@_CBDIR
def check(cbdir: str) -> None:
    """Check the node config completely (Crossbar's checks and cfxstore's keys); exit status 1 on a problem."""
    check_node(os.path.abspath(cbdir))
    click.echo(f"ok: {os.path.join(os.path.abspath(cbdir), 'config.json')} is a valid cfxstore node config")


@router.command()
@_CBDIR
def status(cbdir: str) -> None:
    """Whether the node in the directory runs; exit status 0 if it does, 3 if not."""
    pid = running_pid(os.path.abspath(cbdir))
    if pid is None:
        click.echo(f"stopped: no node runs from {cbdir}")
        sys.exit(3)
    click.echo(f"running: node in {cbdir} (pid {pid})")


@router.command()
@_CBDIR
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds to wait for a clean shutdown.")
def stop(cbdir: str, timeout: float) -> None:
    """Stop the node cleanly (sessions are closed and history written); exit status 1 if it does not stop."""
    pid = stop_node(os.path.abspath(cbdir), timeout)
    click.echo(f"stopped: node in {cbdir}" + (f" (pid {pid})" if pid else " was not running"))


@router.command()
@_CBDIR
@click.argument("authid")
def revoke(cbdir: str, authid: str) -> None:
    """Delete every cookie of AUTHID from the node's databases.

    On PostgreSQL every node closes the cookies' live connections; on LMDB
    they stay open (the router procedure cfxstore.cookie.revoke_by_authid
    closes them).
    """
    count = revoke_cookies(os.path.abspath(cbdir), authid)
    click.echo(f"deleted {count} cookie(s) of {authid!r}")


from cfxstore.router.launcher import add_principal as add, check_node, check_role, init_node, revoke as revoke_cookies, start as start_node
from cfxstore.router.managementconfig import extend_node_config
from cfxstore.node.process import running_pid, stop_node
