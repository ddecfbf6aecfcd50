"""``cfxstore router``: create, run and administer a Crossbar node with cfxstore persistence."""

from __future__ import annotations

import os

import click

_CBDIR = click.option("--cbdir", default=".crossbar", show_default=True, type=click.Path(file_okay=False),
                      help="Node directory.")


@click.group()
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
    from cfxstore.router.launcher import init_node

    try:
        path = init_node(os.path.abspath(cbdir), host=host, port=port, realm=realm, force=force)
    except FileExistsError as e:
        raise click.ClickException(str(e)) from None
    if management or store_roles:
        from cfxstore.router.managementconfig import extend_node_config

        extend_node_config(os.path.abspath(cbdir), management=management, realm=realm, store_roles=store_roles)
    click.echo(f"wrote {path}")
    click.echo(f"start the router with: cfxstore router start --cbdir {cbdir}")


@router.command()
@_CBDIR
@click.option("--loglevel", default="info", show_default=True,
              type=click.Choice(["none", "error", "warn", "info", "debug", "trace"]))
def start(cbdir: str, loglevel: str) -> None:
    """Run the router (an empty node directory is initialized first)."""
    from cfxstore.router.launcher import start as start_node

    start_node(cbdir, loglevel=loglevel)


@router.command("add-principal")
@_CBDIR
@click.option("--realm", default="realm1", show_default=True)
@click.option("--role", required=True, help="WAMP role the principal is authenticated with.")
@click.option("--ticket", default=None, help="The ticket (secret); generated and printed if omitted.")
@click.argument("authid")
def add_principal(cbdir: str, realm: str, role: str, ticket: str | None, authid: str) -> None:
    """Add a principal that logs in with a ticket."""
    from cfxstore.router.launcher import add_principal as add

    try:
        secret = add(os.path.abspath(cbdir), realm=realm, authid=authid, role=role, ticket=ticket)
    except (LookupError, ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"added {authid!r} (role {role!r}) on realm {realm!r}")
    if ticket is None:
        click.echo(f"ticket (shown only this once): {secret}")


@router.command()
@_CBDIR
@click.argument("authid")
def revoke(cbdir: str, authid: str) -> None:
    """Delete every cookie of AUTHID from the node's databases.

    Live connections stay open; the router procedure
    cfxstore.cookie.revoke_by_authid also closes them.
    """
    from cfxstore.router.launcher import revoke as revoke_cookies

    try:
        count = revoke_cookies(os.path.abspath(cbdir), authid)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"deleted {count} cookie(s) of {authid!r}")


from cfxstore.cli.adopt import adopt  # noqa: E402  (the command lives in its own file)

router.add_command(adopt)
