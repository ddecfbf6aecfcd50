"""``cfxstore permissions``: what a role may do on URIs."""

from __future__ import annotations

from typing import Any

import click

from cfxstore.cli.manage import after_option, emit_records, limit_option, management, management_errors, report
from cfxstore.cli.render import db_option, json_option
from cfxstore.management.errors import NotFound

ACTIONS = ("call", "register", "publish", "subscribe")
_role = click.option("--role", required=True, help="The role the permission belongs to.")


def _actions(value: str | None, choices: tuple[str, ...], option: str) -> set[str] | None:
    if value is None:
        return None
    chosen = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(chosen - set(choices) - {"none"})
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; expected a comma-separated list of "
                                 f"{', '.join(choices)} (or none)", param_hint=option)
    return chosen - {"none"}


def _flags(allow: str | None, disclose: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    allowed = _actions(allow, ACTIONS, "--allow")
    if allowed is not None:
        out.update({f"allow_{a}": a in allowed for a in ACTIONS})
    disclosed = _actions(disclose, ("caller", "publisher"), "--disclose")
    if disclosed is not None:
        out.update({f"disclose_{d}": d in disclosed for d in ("caller", "publisher")})
    return out


def _find(m: Any, role: str, uri: str) -> Any:
    role_oid = m.roles.get_by(role).oid
    perm = next((p for p in m.permissions.list(role_oid=role_oid, limit=1000).items if p.uri == uri), None)
    if perm is None:
        raise NotFound(f"role {role!r} has no permission for URI {uri!r}")
    return perm


def _allowed(p: Any) -> str:
    return ",".join(a for a in ACTIONS if getattr(p, f"allow_{a}")) or "none"


@click.group()
def permissions() -> None:
    """Permissions of roles: URI (exact, prefix or wildcard match) and allowed actions."""


@permissions.command("list")
@_role
@db_option
@limit_option
@after_option
@json_option
@management_errors
def list_(role: str, db: str | None, limit: int, after: str | None, as_json: bool) -> None:
    """The permissions of --role by URI."""
    with management(db, write=False) as m:
        page = m.permissions.list(role_oid=m.roles.get_by(role).oid, limit=limit, after=after)
    emit_records(page.items, ["uri", "match", "allow", "disclose", "cache"],
                 lambda p: (p.uri or '""', p.match, _allowed(p),
                            ",".join(d for d in ("caller", "publisher") if getattr(p, f"disclose_{d}")) or "-",
                            "yes" if p.cache else "no"), as_json, page.next, "permission")


@permissions.command()
@click.argument("uri")
@_role
@db_option
@click.option("--match", type=click.Choice(["exact", "prefix", "wildcard"]), default="exact", show_default=True)
@click.option("--allow", default="none", show_default=True,
              help="Comma-separated actions: call,register,publish,subscribe.")
@click.option("--disclose", default="none", show_default=True, help="Comma-separated: caller,publisher.")
@click.option("--cache/--no-cache", default=True, show_default=True, help="May the decision be cached.")
@json_option
@management_errors
def add(uri: str, role: str, db: str | None, match: str, allow: str, disclose: str, cache: bool,
        as_json: bool) -> None:
    """Give --role a permission on URI (takes effect on running routers within a second)."""
    values = _flags(allow, disclose)
    with management(db, write=True) as m:
        perm = m.permissions.create(role_oid=m.roles.get_by(role).oid, uri=uri, match=match, cache=cache, **values)
    report(as_json, f"role {role!r} may {_allowed(perm)} on {uri!r} ({match})", perm)


@permissions.command()
@click.argument("uri")
@_role
@db_option
@click.option("--match", type=click.Choice(["exact", "prefix", "wildcard"]), default=None)
@click.option("--allow", default=None, help="Replace the allowed actions (comma-separated, or none).")
@click.option("--disclose", default=None, help="Replace what is disclosed (caller,publisher or none).")
@click.option("--cache/--no-cache", default=None)
@json_option
@management_errors
def update(uri: str, role: str, db: str | None, match: str | None, allow: str | None, disclose: str | None,
           cache: bool | None, as_json: bool) -> None:
    """Change the permission of --role on URI."""
    changes = _flags(allow, disclose)
    changes.update({k: v for k, v in (("match", match), ("cache", cache)) if v is not None})
    if not changes:
        raise click.UsageError("nothing to change: give --match, --allow, --disclose or --cache/--no-cache")
    with management(db, write=True) as m:
        perm = m.permissions.update(_find(m, role, uri).oid, **changes)
    report(as_json, f"role {role!r} may {_allowed(perm)} on {uri!r} ({perm.match})", perm)


@permissions.command()
@click.argument("uri")
@_role
@db_option
@json_option
@management_errors
def remove(uri: str, role: str, db: str | None, as_json: bool) -> None:
    """Remove the permission of --role on URI."""
    with management(db, write=True) as m:
        perm = m.permissions.delete(_find(m, role, uri).oid)
    report(as_json, f"removed the permission of {role!r} on {uri!r}", perm)
