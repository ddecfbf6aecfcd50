"""``cfxstore roles``: the roles permissions belong to."""

from __future__ import annotations

import click

from cfxstore.cli.manage import (
    add_named_commands, after_option, emit_record, emit_records, limit_option, management, management_errors,
)
from cfxstore.cli.render import db_option, fmt_time, json_option
from cfxstore.management.wire import to_wire


@click.group()
def roles() -> None:
    """Roles: sets of permissions, put in effect on a realm with `cfxstore realms add-role`."""


@roles.command("list")
@db_option
@limit_option
@after_option
@json_option
@management_errors
def list_(db: str | None, limit: int, after: str | None, as_json: bool) -> None:
    """Roles by name."""
    with management(db, write=False) as m:
        page = m.roles.list(limit=limit, after=after)
        counts = {r.oid: len(m.permissions.list(role_oid=r.oid, limit=1000).items) for r in page.items}
    emit_records(page.items, ["name", "permissions", "description", "created"],
                 lambda r: (r.name, counts[r.oid], r.description, fmt_time(r.created)), as_json, page.next, "role")


@roles.command()
@click.argument("name")
@db_option
@json_option
@management_errors
def show(name: str, db: str | None, as_json: bool) -> None:
    """The role NAME with its permissions and the realms it is in effect on."""
    with management(db, write=False) as m:
        role = m.roles.get_by(name)
        perms = [to_wire(p) for p in m.permissions.list(role_oid=role.oid, limit=1000).items]
        realms = sorted(m.arealms.get(a.arealm_oid).name for a in m.arealm_roles.list(role_oid=role.oid,
                                                                                       limit=1000).items)
    emit_record(role, as_json, {"realms": realms, "permissions": perms if as_json else len(perms)})


add_named_commands(roles, "roles", "role", "and its permissions; refused while it is in effect on a realm")
