"""The ``cfxstore`` command: a click group that subcommand groups are added to."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from cfxstore import __version__
from cfxstore.cli.cookies import cookies
from cfxstore.cli.copy import copy as copy_command
from cfxstore.cli.db import db
from cfxstore.cli.events import events
from cfxstore.cli.migrate import migrate
from cfxstore.cli.permissions import permissions
from cfxstore.cli.principal_records import show as show_principal
from cfxstore.cli.principal_records import update as update_principal
from cfxstore.cli.principals import principals
from cfxstore.cli.realms import realms
from cfxstore.cli.render import describe
from cfxstore.cli.roles import roles
from cfxstore.cli.router import router
from cfxstore.cli.sessions import sessions


class _Commands(click.Group):
    """The command group; every error that reaches it becomes a one-line "Error:" (exit status 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("CFXSTORE_TRACEBACK"):
                raise
            raise click.ClickException(describe(exc)) from None


# The connection pool logs each failed connection attempt; with no logging configured Python would print
# those as extra lines beside the command's one-line error (which already says the server is unreachable).
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="cfxstore")
def cli() -> None:
    """Durable storage for WAMP routers."""


cli.add_command(router)
cli.add_command(db)
db.add_command(copy_command)
cli.add_command(cookies)
cli.add_command(sessions)
cli.add_command(events)
cli.add_command(principals)
principals.add_command(show_principal)
principals.add_command(update_principal)
cli.add_command(migrate)
cli.add_command(realms)
cli.add_command(roles)
cli.add_command(permissions)


if __name__ == "__main__":
    cli()
