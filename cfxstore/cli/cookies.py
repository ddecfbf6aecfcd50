"""``cfxstore cookies``: list, show, revoke and purge persistent authentication cookies."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import click

from cfxstore.cli.render import (db_option, db_path, emit_json, fields, fmt_time, handle_errors, json_option, note,
                                 table, text)
from cfxstore.cookies.service import CookieService
from cfxstore.migrate.access import open_existing
from cfxstore.timeutil import now_ns


@click.group()
def cookies() -> None:
    """Persistent WAMP cookie authentication."""


def _open(path: str | None, readonly: bool) -> Any:
    return open_existing(db_path(path), readonly=readonly)


def _has_store(database: Any) -> bool:
    return any(e["name"] == "cookies" for e in database.catalog().values())


def _cookie_id(text: str, hint: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a cookie id (a UUID)", param_hint=hint) from None


def _record(cookie: Any, now: int) -> dict[str, Any]:
    # The value hash is left out: it is a lookup key for a live login.
    data = {k: v for k, v in cookie.marshal().items() if k != "value_hash"}
    data["oid"] = str(cookie.oid)
    data["expired"] = cookie.is_expired(now)
    return data


@cookies.command("list")
@db_option
@click.option("--authid", default=None, help="Only the cookies of this authid.")
@click.option("--all", "show_all", is_flag=True, help="Include expired cookies.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many.")
@json_option
@handle_errors
def list_(db: str | None, authid: str | None, show_all: bool, limit: int | None, as_json: bool) -> None:
    """Cookies, oldest first (live ones unless --all): with --authid, its logins, one per device."""
    now = now_ns()
    found: list[Any] = []
    with _open(db, readonly=True) as database:
        if _has_store(database):
            service = CookieService(database)
            with database.begin() as txn:
                if authid is not None:
                    oids = service.schema.cookies.keys_by_index(txn, "idx_cookies_by_authid", authid)
                    records: Iterator[Any] = (service.schema.cookies[txn, oid] for oid in oids)
                else:
                    records = service.schema.cookies.select(txn, return_keys=False)
                found = [c for c in records if c is not None and (show_all or not c.is_expired(now))]
    found.sort(key=lambda c: c.created)
    if limit is not None:
        found = found[:limit]
    if as_json:
        emit_json([_record(c, now) for c in found])
        return
    table(["id", "authid", "role", "realm", "created", "last login", "peer", "user agent", "expires", "state"],
          [(c.oid, c.authid or "(anonymous)", c.authrole, c.authrealm, fmt_time(c.created),
            fmt_time(c.last_login), c.peer or "-", text(c.user_agent or "-", 40),
            fmt_time(c.expires), "expired" if c.is_expired(now) else "live") for c in found])
    note(f"{len(found)} cookie(s)")


@cookies.command()
@click.argument("cookie_id")
@db_option
@json_option
@handle_errors
def show(cookie_id: str, db: str | None, as_json: bool) -> None:
    """One cookie by its id (the UUID shown by `cookies list`)."""
    oid = _cookie_id(cookie_id, "COOKIE_ID")
    cookie = None
    with _open(db, readonly=True) as database:
        if _has_store(database):
            service = CookieService(database)
            with database.begin() as txn:
                cookie = service.schema.cookies[txn, oid]
    if cookie is None:
        raise click.ClickException(f"no cookie {oid}")
    data = _record(cookie, now_ns())
    if as_json:
        emit_json(data)
        return
    times = {"created", "modified", "expires", "last_login"}
    fields([(k, fmt_time(v) if k in times else text(v, 200)) for k, v in data.items()])


@cookies.command()
@db_option
@click.option("--authid", default=None, help="Delete every cookie of this authid.")
@click.option("--id", "cookie_id", default=None, help="Delete this one cookie (one device's login; see `list`).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handle_errors
def revoke(db: str | None, authid: str | None, cookie_id: str | None, yes: bool, as_json: bool) -> None:
    """Delete every cookie of an authid, or one cookie by its id (its browser must log in again).

    Every running router on the database (any node on PostgreSQL, any process
    on the machine on LMDB) closes the deleted cookies' connections.
    """
    if (authid is None) == (cookie_id is None):
        raise click.UsageError("give either --authid or --id")
    oid = None if cookie_id is None else _cookie_id(cookie_id, "--id")
    with _open(db, readonly=False) as database:
        count = 0
        owner = authid
        if _has_store(database):
            service = CookieService(database)
            if oid is not None:
                cookie = service.revoke(oid)
                count, owner = (0, None) if cookie is None else (1, cookie.authid)
            else:
                assert authid is not None
                n = len(service.cookies_by_authid(authid))
                if n and not yes and not as_json:
                    click.confirm(f"delete {n} live cookie(s) of {authid!r}?", abort=True)
                count = len(service.revoke_authid(authid))
    if as_json:
        emit_json({"authid": owner, "revoked": count, **({"id": str(oid)} if oid is not None else {})})
    elif oid is not None:
        if not count:
            raise click.ClickException(f"no cookie {oid}")
        click.echo(f"revoked cookie {oid} of {owner!r}")
    else:
        click.echo(f"revoked {count} cookie(s) of {authid!r}")


@cookies.command("purge-expired")
@db_option
@json_option
@handle_errors
def purge_expired(db: str | None, as_json: bool) -> None:
    """Delete every expired cookie."""
    with _open(db, readonly=False) as database:
        count = CookieService(database).purge_expired() if _has_store(database) else 0
    if as_json:
        emit_json({"purged": count})
    else:
        click.echo(f"purged {count} expired cookie(s)")
