"""``cfxstore principals show|update|disable|enable``: a principal's record, its links and kinds of secret."""

from __future__ import annotations

import json

import click

from cfxstore.cli.manage import emit_record, management, management_errors, report
from cfxstore.cli.render import db_option, json_option

_realm_option = click.option("--realm", default="realm1", show_default=True, help="The WAMP realm.")


@click.command()
@click.argument("authid")
@db_option
@_realm_option
@json_option
@management_errors
def show(authid: str, db: str | None, realm: str, as_json: bool) -> None:
    """The principal AUTHID: role, links, extra and the kinds of secret it has (never the secrets)."""
    with management(db, write=False) as m:
        principal = m.principals.get_by((realm, authid))
        methods = sorted(c["authmethod"] for c in m.principals.credentials(principal.oid))
    emit_record(principal, as_json, {"secrets": methods})


@click.command()
@click.argument("authid")
@db_option
@_realm_option
@click.option("--role", default=None, help="New WAMP role (linked to the stored role of that name if there is one).")
@click.option("--extra", default=None, metavar="JSON", help="New authextra, a JSON object (or null).")
@json_option
@management_errors
def update(authid: str, db: str | None, realm: str, role: str | None, extra: str | None, as_json: bool) -> None:
    """Change the role or the authextra of AUTHID (takes effect at its next login)."""
    changes: dict = {}
    if extra is not None:
        try:
            changes["extra"] = json.loads(extra)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--extra") from None
    with management(db, write=True) as m:
        principal = m.principals.get_by((realm, authid))
        if role is not None:
            changes.update(role=role, role_oid=None)
            try:
                changes["role_oid"] = m.roles.get_by(role).oid
            except LookupError:
                pass
        if not changes:
            raise click.UsageError("nothing to change: give --role or --extra")
        principal = m.principals.update(principal.oid, **changes)
    report(as_json, f"updated {authid!r} on realm {realm!r}", principal)


def _switch(disable: bool, summary: str, done: str, unchanged: str) -> click.Command:
    """``principals disable`` or ``principals enable``: one change through the principals' owner."""
    @click.command("disable" if disable else "enable", help=summary)
    @click.argument("authid")
    @db_option
    @_realm_option
    @json_option
    @management_errors
    def command(authid: str, db: str | None, realm: str, as_json: bool) -> None:
        with management(db, write=True) as m:
            before = m.principals.get_by((realm, authid))
            principal = (m.principals.disable if disable else m.principals.enable)(before.oid)
        changed = (before.disabled is None) == disable
        report(as_json, f"{authid!r} on realm {realm!r} {done if changed else unchanged}", principal)

    return command


disable = _switch(True, "Disable AUTHID: its logins end, and it cannot log in (by any method) until enabled.",
                  "disabled; its logins ended", "was already disabled")
enable = _switch(False, "Enable a disabled AUTHID: it logs in again with the secrets it has.",
                 "enabled", "was not disabled")
