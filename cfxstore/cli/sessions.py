"""``cfxstore sessions``: the stored WAMP session history."""

from __future__ import annotations

import heapq
from typing import Any

import click

from cfxstore.cli.render import (TIME, db_option, db_path, emit_json, fields, fmt_time, handle_errors, json_option, note,
                                 table, text)
from cfxstore.migrate.access import open_existing
from cfxstore.realmstore.service import SessionHistory


@click.group()
def sessions() -> None:
    """Session history (who joined which realm, when)."""


def _history(database: Any) -> Any:
    """The SessionHistory of database, or None if it has no realm store."""
    if not any(e["name"] == "sessions" for e in database.catalog().values()):
        return None
    return SessionHistory(database)


def _open(path: str | None) -> Any:
    return open_existing(db_path(path), readonly=True)


def _left(session: Any) -> str:
    if session.left_at is None:
        return "(active)"
    # A crashed router's session: left at its last heartbeat or later.
    return f"~{fmt_time(session.left_at)}" if session.left_approximate else fmt_time(session.left_at)


def _record(session: Any) -> dict[str, Any]:
    data = session.marshal()
    data["oid"] = str(session.oid)
    return data


@sessions.command("list")
@db_option
@click.option("--authid", default=None, help="Only sessions of this authid.")
@click.option("--realm", default=None, help="Only sessions on this realm.")
@click.option("--active", is_flag=True, help="Only sessions that have not left.")
@click.option("--since", type=TIME, default=None,
              help="Only sessions still joined at or after this time (ISO 8601, 1h, 7d or int ns).")
@click.option("--until", type=TIME, default=None, help="Only sessions that joined before this time.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@handle_errors
def list_(db: str | None, authid: str | None, realm: str | None, active: bool, since: int | None,
          until: int | None, limit: int, as_json: bool) -> None:
    """Sessions, newest first (--since/--until: the sessions that were joined during that time)."""
    found: list[Any] = []
    with _open(db) as database:
        history = _history(database)
        if history is not None:
            def keep(s: Any) -> bool:
                return ((realm is None or s.realm == realm) and (not active or s.left_at is None)
                        and (until is None or s.joined_at < until)
                        and (since is None or s.left_at is None or s.left_at >= since))

            if authid is not None:
                found = [s for s in history.sessions_by_authid(authid) if keep(s)][:limit]
            else:
                with database.begin() as txn:
                    records = history.schema.sessions.select(txn, return_keys=False)
                    found = heapq.nlargest(limit, (s for s in records if keep(s)), key=lambda s: s.joined_at)
    if as_json:
        emit_json([_record(s) for s in found])
        return
    table(["session", "realm", "authid", "role", "method", "joined", "left"],
          [(s.session_id, s.realm, s.authid, s.authrole, s.authmethod, fmt_time(s.joined_at),
            _left(s)) for s in found])
    note(f"{len(found)} session(s)")


def _session(history: Any, session_id: int, joined_at: int | None) -> Any:
    if joined_at is None:
        return history.get_session(session_id)
    with history.db.begin() as txn:
        joins = history.schema.idx_sessions_by_session_id.select(txn, prefix=(session_id,))
        nearest = min(joins, key=lambda item: abs(item[0][1] - joined_at), default=None)
        return None if nearest is None else history.schema.sessions[txn, nearest[1]]


@sessions.command()
@click.argument("session_id", type=click.IntRange(0, 2**64 - 1))
@db_option
@click.option("--joined-at", type=TIME, default=None,
              help="When the id was reused: the session with it that joined nearest this time "
                   "(ISO 8601 as shown, or int ns).")
@json_option
@handle_errors
def show(session_id: int, db: str | None, joined_at: int | None, as_json: bool) -> None:
    """One session by its WAMP session id (the latest with that id unless --joined-at)."""
    with _open(db) as database:
        history = _history(database)
        session = None if history is None else _session(history, session_id, joined_at)
    if session is None:
        raise click.ClickException(f"no session {session_id}")
    data = _record(session)
    if as_json:
        emit_json(data)
        return
    fields([(k, fmt_time(v) if k in ("joined_at", "left_at") else text(v, 200)) for k, v in data.items()])
