"""The ``cfxstore`` command: a click group that subcommand groups are added to."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from cfxstore import __version__
from cfxstore.cli.lazy import LazyGroup
from cfxstore.cli.render import describe

# Each command group is imported when it is run (or listed by --help): lazy.py.
GROUPS = {
    "router": "cfxstore.cli.router:router",
    "audit": "cfxstore.cli.audit:audit",
    "db": "cfxstore.cli.db:db",
    "cookies": "cfxstore.cli.cookies:cookies",
    "sessions": "cfxstore.cli.sessions:sessions",
    "events": "cfxstore.cli.events:events",
    "principals": "cfxstore.cli.principals:principals",
    "migrate": "cfxstore.cli.migrate:migrate",
    "realms": "cfxstore.cli.realms:realms",
    "roles": "cfxstore.cli.roles:roles",
    "permissions": "cfxstore.cli.permissions:permissions",
}


class _Commands(LazyGroup):
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


@click.group(cls=_Commands, lazy=GROUPS)
@click.version_option(__version__, prog_name="cfxstore")
def cli() -> None:
    """Durable storage for WAMP routers."""


if __name__ == "__main__":
    cli()
