"""Version 2: remove cookie values and credentials from stored transport details.

Crossbar's transport details carry the raw cookie value (``http_cbtid``)
and every HTTP header, Cookie and Authorization included. Sessions and
cookies written with unfiltered details (by other tools through the
services, or by an early router) keep live credentials in the database,
which undoes the hashing of cookie values at rest. This step filters them
out of ``sessions.transport`` and ``cookies.transport`` (and the proxy
transport of imported sessions).

Downgrade only steps the version back: version 1 code reads filtered
records as they are, and removed secrets cannot be put back.
"""

from cfxstore.migrate.context import MigrationContext
from cfxstore.transport import scrub_transport

VERSION = 2
DESCRIPTION = "remove cookie values and credentials from stored transport details"

_FIELDS = ("transport", "proxy_transport")


def upgrade(ctx: MigrationContext) -> None:
    for name in ("sessions", "cookies"):
        if not ctx.has_table(name):
            continue
        for key, record in ctx.rows(name):
            if not isinstance(record, dict):
                continue
            changed = False
            for field in _FIELDS:
                value = record.get(field)
                cleaned = scrub_transport(value)
                if cleaned != value:
                    record[field] = cleaned
                    changed = True
            if changed:
                ctx.put(name, key, record)


def downgrade(ctx: MigrationContext) -> None:
    ctx.note("nothing to restore: version 1 reads filtered transport details unchanged")
