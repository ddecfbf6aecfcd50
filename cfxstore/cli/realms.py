"""``cfxstore realms``: application realms and the roles in effect on them."""

from __future__ import annotations

import click

from cfxstore.cli.manage import (
    add_named_commands, after_option, emit_record, emit_records, limit_option, management, management_errors, report,
)
from cfxstore.cli.render import db_option, fmt_time, json_option


@click.group()
def realms() -> None:
    """Application realms and their roles (what the store-backed authorizer reads)."""


@realms.command("list")
@db_option
@limit_option
@after_option
@json_option
@management_errors
def list_(db: str | None, limit: int, after: str | None, as_json: bool) -> None:
    """Application realms by name."""
    with management(db, write=False) as m:
        page = m.arealms.list(limit=limit, after=after)
        emit_records(page.items, ["name", "status", "description", "changed"],
                     lambda r: (r.name, r.status, r.description, fmt_time(r.changed)), as_json, page.next, "realm")


@realms.command()
@click.argument("name")
@db_option
@json_option
@management_errors
def show(name: str, db: str | None, as_json: bool) -> None:
    """The realm NAME and the roles in effect on it."""
    with management(db, write=False) as m:
        realm = m.arealms.get_by(name)
        roles = sorted(m.roles.get(a.role_oid).name for a in m.arealm_roles.list(arealm_oid=realm.oid,
                                                                                  limit=1000).items)
    emit_record(realm, as_json, {"roles": roles})


add_named_commands(realms, "arealms", "realm", "its role associations go with it")


@realms.command("add-role")
@click.argument("realm")
@click.argument("role")
@db_option
@json_option
@management_errors
def add_role(realm: str, role: str, db: str | None, as_json: bool) -> None:
    """Put ROLE in effect on REALM (its permissions then authorize sessions with that role)."""
    with management(db, write=True) as m:
        m.arealm_roles.create(arealm_oid=m.arealms.get_by(realm).oid, role_oid=m.roles.get_by(role).oid)
    report(as_json, f"role {role!r} is in effect on {realm!r}", data={"realm": realm, "role": role})


@realms.command("remove-role")
@click.argument("realm")
@click.argument("role")
@db_option
@json_option
@management_errors
def remove_role(realm: str, role: str, db: str | None, as_json: bool) -> None:
    """Take ROLE out of effect on REALM (sessions with it are then denied everything)."""
    with management(db, write=True) as m:
        m.arealm_roles.delete((m.arealms.get_by(realm).oid, m.roles.get_by(role).oid))
    report(as_json, f"role {role!r} is no longer in effect on {realm!r}",
           data={"realm": realm, "role": role, "removed": True})
