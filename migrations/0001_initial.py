"""Version 1: the first versioned layout of cfxstore databases.

The tables themselves are created by the schemas when a service first
attaches them, so there is nothing to transform: this step only stamps a
database that was written before versions were tracked.
"""

from cfxstore.migrate.context import MigrationContext

VERSION = 1
DESCRIPTION = "baseline: stamp a database written before schema versions existed"


def upgrade(ctx: MigrationContext) -> None:
    ctx.note(f"{len(ctx.table_names())} tables found; nothing to transform")
