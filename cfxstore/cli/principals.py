"""``cfxstore principals``: WAMP principals and their ticket, WAMP-CRA or WAMP-SCRAM secrets, TLS certificates
or cryptosign keys.

Secrets are read from a hidden prompt or from stdin (--password-stdin),
never from the command line, where they would land in shell history and
in every process listing.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import sys
from typing import Any, Callable, Iterator, TypeVar

import click

from cfxstore.cli.principal_methods import (certificate, certificate_match, certificate_options, scram_options,
                                            scram_settings)
from cfxstore.cli.principal_keys import key_fields, key_options, keys
from cfxstore.cli.render import db_option, db_path, emit_json, fmt_time, handle_errors, json_option, note, table
from cfxstore.credentials.cryptosign import CryptosignKeyring
from cfxstore.credentials.service import CredentialService
from cfxstore.errors import Error
from cfxstore.management import Management
from cfxstore.management.errors import InvalidArgument, NotFound
from cfxstore.migrate.access import open_existing, open_or_create

F = TypeVar("F", bound=Callable[..., Any])

#: Random bytes of a generated ticket (192 bits).
GENERATED_BYTES = 24

_realm_option = click.option("--realm", default="realm1", show_default=True, help="The WAMP realm.")
_method_option = click.option("--method", type=click.Choice(["ticket", "wampcra", "scram", "tls"]), default="ticket",
                              show_default=True, help="How the principal authenticates.")
# add also takes cryptosign, whose public keys are given with --pubkey (more with `principals keys add`).
_add_method_option = click.option("--method", type=click.Choice(["ticket", "wampcra", "scram", "tls", "cryptosign"]),
                                  default="ticket", show_default=True, help="How the principal authenticates.")
_stdin_option = click.option("--password-stdin", is_flag=True,
                             help="Read the secret from the first line of stdin instead of a prompt.")
_generate_option = click.option("--generate", is_flag=True,
                                help="Generate a random ticket (192 bits, shown only once) instead of reading "
                                     "one; generated tickets are stored with a fast hash, so logins are quick.")


@click.group()
def principals() -> None:
    """Principals (authid + role per realm) and their secrets."""


def _credential_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Error as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _read_secret(from_stdin: bool, what: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        secret = line[:-1] if line.endswith("\n") else line
        secret = secret[:-1] if secret.endswith("\r") else secret
    else:
        secret = click.prompt(what, hide_input=True, confirmation_prompt=True, err=True)
    if not secret:
        raise click.ClickException("the secret must not be empty")
    return secret


@contextlib.contextmanager
def _service(path: str | None, readonly: bool, *, create: bool = False) -> Iterator[Any]:
    """A CredentialService on the database at path, closed afterwards."""
    if create:
        database, created = open_or_create(db_path(path))
        if created:
            note(f"created a new database at {database.path}")
    else:
        database = open_existing(db_path(path), readonly=readonly)
    with database:
        yield CredentialService(database)


@contextlib.contextmanager
def _management(path: str | None, *, create: bool = False) -> Iterator[Any]:
    """The service layer (secrets through a CredentialService): its changes reach the change feed."""
    with _service(path, readonly=False, create=create) as service:
        yield Management(service.db, credentials=service)


def _principal(mgmt: Any, realm: str, authid: str) -> Any:
    try:
        return mgmt.principals.get_by((realm, authid))
    except (NotFound, InvalidArgument):  # a name no index can hold names no principal either
        return None


def _require_usable(path: str | None) -> None:
    """The errors opening the database would give (missing, wrong kind, old schema), without writing."""
    open_existing(db_path(path), readonly=True).close()


def _has_tables(path: str | None) -> bool:
    with open_existing(db_path(path), readonly=True) as database:
        return any(e["name"] == "principals" for e in database.catalog().values())


def _set_secret(mgmt: Any, principal: Any, method: str, secret: str | None, options: dict[str, Any]) -> str | None:
    """Store the secret (a generated ticket if secret is None); returns the generated ticket."""
    if secret is None:
        ticket = secrets.token_urlsafe(GENERATED_BYTES)
        mgmt.principals.set_secret(principal.oid, "ticket", ticket, generated=True)
        return ticket
    mgmt.principals.set_secret(principal.oid, method, secret, **options)
    return None


def _check_generate(generate: bool, method: str) -> None:
    if generate and method != "ticket":
        raise click.UsageError("--generate makes tickets only (use --method ticket)")


def _show_generated(ticket: str | None, as_json: bool) -> None:
    if ticket is not None and not as_json:
        click.echo(f"ticket (shown only this once): {ticket}")


@principals.command()
@click.argument("authid")
@db_option
@_realm_option
@click.option("--role", required=True, help="The WAMP role the principal gets.")
@_add_method_option
@_stdin_option
@_generate_option
@scram_options
@certificate_options
@click.option("--pubkey", default=None, metavar="HEX",
              help="cryptosign: the principal's Ed25519 public key (64 hex characters).")
@key_options
@click.option("--no-secret", is_flag=True, help="Create the principal without a secret (set one with passwd).")
@click.option("--create", is_flag=True, help="Create the database if there is none at the path.")
@json_option
@handle_errors
@_credential_errors
def add(authid: str, db: str | None, realm: str, role: str, method: str, password_stdin: bool, generate: bool,
        kdf: str | None, iterations: int | None, memory: int | None, fingerprint: str | None,
        certificate: str | None, cn: str | None, pubkey: str | None, label: str | None, not_before: str | None,
        not_after: str | None, no_secret: bool, create: bool, as_json: bool) -> None:
    """Add a principal AUTHID with a secret (prompted, --password-stdin, or --generate), a TLS certificate
    or a cryptosign key."""
    _check_generate(generate, method)
    if method == "cryptosign":
        _add_with_key(authid, db, realm, role, pubkey, key_fields(label, not_before, not_after), create, as_json)
        return
    if pubkey is not None or label is not None or not_before is not None or not_after is not None:
        raise click.UsageError("--pubkey, --label, --not-before and --not-after go with --method cryptosign")
    options = scram_settings(method, kdf, iterations, memory)
    match = certificate_match(method, fingerprint, certificate, cn, required=not no_secret)
    if not create:
        _require_usable(db)  # before asking for a secret
    asks = not (no_secret or generate or method == "tls")
    secret = _read_secret(password_stdin, f"{method} for {authid}") if asks else None
    generated = None
    with _management(db, create=create) as mgmt:
        if generate:
            generated = secret = secrets.token_urlsafe(GENERATED_BYTES)
        # The secret is hashed before the one write of principal and secret.
        mgmt.principals.create(realm=realm, authid=authid, role=role, generated=generate, scram_options=options,
                               **({method: secret} if secret is not None else {}),
                               **({"tls": match} if match is not None else {}))
    if as_json:
        emit_json({"realm": realm, "authid": authid, "role": role, "method": None if no_secret else method,
                   **({"ticket": generated} if generated else {})})
    else:
        what = "" if no_secret else " with a TLS client certificate" if method == "tls" else f" with a {method} secret"
        click.echo(f"added {authid!r} (role {role!r}) on realm {realm!r}{what}")
        _show_generated(generated, as_json)


def _add_with_key(authid: str, db: str | None, realm: str, role: str, pubkey: str | None, fields: dict[str, Any],
                  create: bool, as_json: bool) -> None:
    """The principal and its first cryptosign key, in one write."""
    if pubkey is None:
        raise click.UsageError("--method cryptosign needs --pubkey HEX (the Ed25519 public key)")
    with _management(db, create=create) as mgmt:
        def write(txn: Any) -> Any:
            principal = mgmt.principals.create(txn, realm=realm, authid=authid, role=role)
            return mgmt.principals.add_key(principal.oid, pubkey, txn=txn, **fields)

        key = mgmt.transact(write)
    if as_json:
        emit_json({"realm": realm, "authid": authid, "role": role, "method": "cryptosign", "pubkey": key.pubkey})
    else:
        click.echo(f"added {authid!r} (role {role!r}) on realm {realm!r} with cryptosign key {key.pubkey}")


@principals.command("list")
@db_option
@click.option("--realm", default=None, help="Only principals of this realm.")
@json_option
@handle_errors
def list_(db: str | None, realm: str | None, as_json: bool) -> None:
    """Principals by realm and authid, with the kinds of secret they have (never the secrets) and when
    they were disabled."""
    rows: list[dict[str, Any]] = []
    if _has_tables(db):
        with _service(db, readonly=True) as service:
            schema = service.schema
            keyed = CryptosignKeyring(service.db).principals_with_keys()
            with service.schema.db.begin() as txn:
                for p in service.list_principals(realm):
                    creds = [schema.credentials[txn, oid] for oid in
                             schema.credentials.keys_by_index(txn, "idx_credentials_by_principal", p.oid)]
                    rows.append({"realm": p.realm, "authid": p.authid, "role": p.role, "extra": p.extra,
                                 "methods": sorted([c.authmethod for c in creds if c is not None]
                                                   + (["cryptosign"] if p.oid in keyed else [])),
                                 "created": p.created, "disabled": p.disabled})
    if as_json:
        emit_json(rows)
        return
    table(["realm", "authid", "role", "secrets", "created", "disabled"],
          [(r["realm"], r["authid"], r["role"], ", ".join(r["methods"]) or "(none)", fmt_time(r["created"]),
            fmt_time(r["disabled"])) for r in rows])
    note(f"{len(rows)} principal(s)")


@principals.command("remove-secret")
@click.argument("authid")
@db_option
@_realm_option
@click.option("--method", type=click.Choice(["ticket", "wampcra", "scram", "tls"]), required=True,
              help="Which secret (credential) to remove.")
@json_option
@handle_errors
@_credential_errors
def remove_secret(authid: str, db: str | None, realm: str, method: str, as_json: bool) -> None:
    """Remove one secret of AUTHID (its logins end; it can no longer log in that way)."""
    _require_usable(db)
    with _management(db) as mgmt:
        principal = _principal(mgmt, realm, authid)
        if principal is None:
            raise click.ClickException(f"no principal {authid!r} on realm {realm!r}")
        if not mgmt.principals.remove_secret(principal.oid, method):
            raise click.ClickException(f"{authid!r} on realm {realm!r} has no {method} secret")
    if as_json:
        emit_json({"realm": realm, "authid": authid, "method": method, "removed": True})
    else:
        click.echo(f"removed the {method} secret of {authid!r} on realm {realm!r}")


@principals.command()
@click.argument("authid")
@db_option
@_realm_option
@_method_option
@_stdin_option
@_generate_option
@scram_options
@json_option
@handle_errors
@_credential_errors
def passwd(authid: str, db: str | None, realm: str, method: str, password_stdin: bool, generate: bool,
           kdf: str | None, iterations: int | None, memory: int | None, as_json: bool) -> None:
    """Set (or replace) the secret of AUTHID."""
    _check_generate(generate, method)
    if method == "tls":
        raise click.UsageError("a TLS principal has no secret: set its certificate with `principals certificate`")
    options = scram_settings(method, kdf, iterations, memory)
    _require_usable(db)  # before asking for a secret
    secret = None if generate else _read_secret(password_stdin, f"new {method} for {authid}")
    with _management(db) as mgmt:
        principal = _principal(mgmt, realm, authid)
        if principal is None:
            raise click.ClickException(f"no principal {authid!r} on realm {realm!r}")
        generated = _set_secret(mgmt, principal, method, secret, options)
    if as_json:
        emit_json({"realm": realm, "authid": authid, "method": method, **({"ticket": generated} if generated else {})})
    else:
        click.echo(f"set the {method} secret of {authid!r} on realm {realm!r}")
        _show_generated(generated, as_json)


@principals.command()
@click.argument("authid")
@db_option
@_realm_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handle_errors
@_credential_errors
def remove(authid: str, db: str | None, realm: str, yes: bool, as_json: bool) -> None:
    """Remove AUTHID and all its secrets."""
    with _management(db) as mgmt:
        # A missing database or principal is named before anything is asked.
        principal = _principal(mgmt, realm, authid)
        if principal is None:
            raise click.ClickException(f"no principal {authid!r} on realm {realm!r}")
        if not yes and not as_json:
            click.confirm(f"remove principal {authid!r} from realm {realm!r}?", abort=True)
        mgmt.principals.delete(principal.oid)  # its credentials go with it
    if as_json:
        emit_json({"realm": realm, "authid": authid, "removed": True})
    else:
        click.echo(f"removed {authid!r} from realm {realm!r}")


from cfxstore.cli.principal_records import disable, enable, show, update  # noqa: E402  (in their own file)

principals.add_command(show)
principals.add_command(update)
principals.add_command(disable)
principals.add_command(enable)
principals.add_command(certificate)
principals.add_command(keys)
