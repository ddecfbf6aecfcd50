"""``cfxstore principals keys list|add|revoke``: a principal's WAMP-cryptosign public keys.

Public keys are not secrets: they are given on the command line. Times take
ISO 8601 (UTC unless it has an offset), int nanoseconds, or ``+DURATION``
from now (``+30d``, ``+12h``) for a validity window that starts or ends later.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from cfxstore.cli.manage import emit_record, management, management_errors
from cfxstore.cli.render import db_option, emit_json, fmt_time, json_option, note, table
from cfxstore.errors import InvalidArgument
from cfxstore.management.cryptosign_keys import key_state
from cfxstore.management.wire import to_wire
from cfxstore.timeutil import now_ns, parse_time

F = TypeVar("F", bound=Callable[..., Any])

_realm_option = click.option("--realm", default="realm1", show_default=True, help="The WAMP realm.")


def key_options(fn: F) -> F:
    """--label, --not-before and --not-after, the options of a key being added."""
    for option in reversed((
        click.option("--label", default=None, help="A name for the key, unique among the principal's unrevoked "
                                                     "keys (revoke it by this name)."),
        click.option("--not-before", default=None, metavar="TIME",
                     help="The key logs in from this time on (ISO 8601, int ns or +DURATION from now)."),
        click.option("--not-after", default=None, metavar="TIME",
                     help="The key logs in until this time (ISO 8601, int ns or +DURATION from now)."),
    )):
        fn = option(fn)
    return fn


def key_fields(label: str | None, not_before: str | None, not_after: str | None) -> dict[str, Any]:
    """add_key's keyword arguments from the options' text."""
    return {"label": label, "not_before": _moment(not_before, "--not-before"),
            "not_after": _moment(not_after, "--not-after")}


def _moment(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        if text.strip().startswith("+"):
            # A duration from now: parse_time reads "30d" as 30 days ago, so mirror it around now.
            now = now_ns()
            return 2 * now - parse_time(text.strip()[1:], now=now)
        return parse_time(text)
    except InvalidArgument as exc:
        raise click.BadParameter(f"{exc}; or +DURATION from now (+30d)", param_hint=option) from None


@click.group()
def keys() -> None:
    """WAMP-cryptosign public keys of a principal (several per principal, each revocable on its own)."""


@keys.command("list")
@click.argument("authid")
@db_option
@_realm_option
@json_option
@management_errors
def list_(authid: str, db: str | None, realm: str, as_json: bool) -> None:
    """The keys of AUTHID, oldest first, with their labels, validity and state."""
    with management(db, write=False) as m:
        principal = m.principals.get_by((realm, authid))
        found = m.principals.keys(principal.oid)
    now = now_ns()
    if as_json:
        emit_json([{**to_wire(k), "state": key_state(k, now)} for k in found])
        return
    table(["pubkey", "label", "not before", "not after", "state", "added"],
          [(k.pubkey, k.label or "-", fmt_time(k.not_before), fmt_time(k.not_after),
            key_state(k, now) + (f" ({fmt_time(k.revoked)})" if k.revoked else ""), fmt_time(k.created))
           for k in found])
    note(f"{len(found)} key(s)")


@keys.command()
@click.argument("authid")
@click.argument("pubkey")
@db_option
@_realm_option
@key_options
@json_option
@management_errors
def add(authid: str, pubkey: str, db: str | None, realm: str, label: str | None, not_before: str | None,
        not_after: str | None, as_json: bool) -> None:
    """Add the Ed25519 public key PUBKEY (64 hex characters) to AUTHID; it logs in at once on running nodes."""
    fields = key_fields(label, not_before, not_after)
    with management(db, write=True) as m:
        principal = m.principals.get_by((realm, authid))
        record = m.principals.add_key(principal.oid, pubkey, **fields)
    if as_json:
        emit_record(record, True)
    else:
        click.echo(f"added key {record.pubkey} to {authid!r} on realm {realm!r}")


@keys.command()
@click.argument("authid")
@click.argument("key")
@db_option
@_realm_option
@json_option
@management_errors
def revoke(authid: str, key: str, db: str | None, realm: str, as_json: bool) -> None:
    """Revoke KEY (a public key or a label) of AUTHID; its other keys keep working.

    Logins with the key are refused from now on and the principal's cookie logins end;
    sessions that logged in with it stay until they leave.
    """
    with management(db, write=True) as m:
        principal = m.principals.get_by((realm, authid))
        record = m.principals.revoke_key(principal.oid, key)
    if as_json:
        emit_record(record, True)
    else:
        click.echo(f"revoked key {record.pubkey} of {authid!r} on realm {realm!r}")
