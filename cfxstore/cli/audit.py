"""``cfxstore audit``: the security events of a database, and how long they are kept."""

from __future__ import annotations

from typing import Any

import click

from cfxstore.audit.entities import KINDS
from cfxstore.audit.service import AuditLog
from cfxstore.cli.render import TIME, db_option, db_path, emit_json, fmt_time, handle_errors, json_option, note, table, text
from cfxstore.management.wire import to_wire
from cfxstore.migrate.access import open_existing


@click.group()
def audit() -> None:
    """Security events: logins, lockouts, logouts and revocations, principal, role and permission changes,
    imports and adoptions."""


def _has_log(database: Any) -> bool:
    return any(e["name"] == "audit_events" for e in database.catalog().values())


@audit.command("list")
@db_option
@click.option("--authid", default=None, help="Only the events of this authid.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS),
              help="Only events of this kind (repeatable).")
@click.option("--since", type=TIME, default=None, help="Only events at or after this time (ISO 8601, 1h, 7d or int ns).")
@click.option("--until", type=TIME, default=None, help="Only events before this time.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Show the newest this many.")
@json_option
@handle_errors
def list_(db: str | None, authid: str | None, kinds: tuple[str, ...], since: int | None, until: int | None,
          limit: int, as_json: bool) -> None:
    """Events, oldest first: the newest --limit of those that match."""
    found: list[Any] = []
    with open_existing(db_path(db), readonly=True) as database:
        if _has_log(database):
            found = AuditLog(database).list(authid=authid, kinds=kinds or None, since=since, until=until, limit=limit)
    if as_json:
        emit_json([to_wire(e) for e in found])
        return
    table(["time", "kind", "action", "realm", "authid", "method", "outcome", "reason", "peer"],
          [(fmt_time(e.at), e.kind, e.action, e.realm, e.authid, e.method, e.outcome, text(e.reason), e.peer)
           for e in found])
    note(f"{len(found)} event(s)")


@audit.command("retention")
@db_option
@click.option("--days", type=click.IntRange(min=1), default=None, help="Keep events this many days from now on.")
@handle_errors
def retention(db: str | None, days: int | None) -> None:
    """Show how long events are kept (90 days unless set), or set it with --days."""
    with open_existing(db_path(db), readonly=days is None) as database:
        if days is None:
            seconds = AuditLog(database).max_age() if _has_log(database) else AuditLog.default_max_age
        else:
            log = AuditLog(database)
            log.set_max_age(days * 86400)
            seconds = log.max_age()
    click.echo(f"events are kept {seconds // 86400} day(s)" if seconds % 86400 == 0 else
               f"events are kept {seconds} second(s)")
