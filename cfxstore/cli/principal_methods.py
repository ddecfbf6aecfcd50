"""Options of ``cfxstore principals`` for WAMP-SCRAM and TLS client certificates, and ``principals certificate``.

A SCRAM principal's password is read like every secret (prompt or
--password-stdin) and only its derived keys are stored; --kdf, --iterations
and --memory choose the key derivation (refused below OWASP's minimums). A
TLS principal names the client certificate it logs in with: its SHA-256
fingerprint (--fingerprint, or --certificate FILE to compute it) or, for
certificates of a CA the router trusts to name principals, its subject
common name (--cn).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar, cast

import click

from cfxstore.cli.manage import management, management_errors
from cfxstore.cli.render import db_option, emit_json, json_option
from cfxstore.credentials import scram, tls

F = TypeVar("F", bound=Callable[..., Any])


def scram_options(fn: F) -> F:
    """--kdf, --iterations, --memory (WAMP-SCRAM only)."""
    fn = click.option("--memory", type=int, default=None,
                      help="scram: argon2id memory in KiB (default 19456).")(fn)
    fn = click.option("--iterations", type=int, default=None,
                      help="scram: argon2id passes (default 2) or PBKDF2 rounds (default 600000).")(fn)
    return click.option("--kdf", type=click.Choice(scram.KDFS), default=None,
                        help=f"scram: key derivation (default {scram.DEFAULT_KDF}).")(fn)


def certificate_options(fn: F) -> F:
    """--fingerprint, --certificate, --cn (TLS only): one of them."""
    fn = click.option("--cn", default=None,
                      help="tls: match the certificate's subject common name (only under a CA named in the "
                           "authenticator's tls.cn_issuers).")(fn)
    fn = click.option("--certificate", type=click.Path(dir_okay=False), default=None,
                      help="tls: match this PEM certificate (its SHA-256 fingerprint is stored).")(fn)
    return click.option("--fingerprint", default=None,
                        help="tls: match the certificate with this SHA-256 fingerprint (hex, colons allowed).")(fn)


def scram_settings(method: str, kdf: str | None, iterations: int | None, memory: int | None) -> dict[str, Any]:
    """The key derivation options given for a SCRAM secret; refused with another method."""
    given = {k: v for k, v in (("kdf", kdf), ("iterations", iterations), ("memory", memory)) if v is not None}
    if given and method != "scram":
        raise click.UsageError(f"--{next(iter(given))} applies to --method scram only")
    return given


def certificate_match(method: str, fingerprint: str | None, certificate: str | None, cn: str | None,
                      required: bool = True) -> dict[str, str] | None:
    """The TLS credential the options name (None when none is given and none is required)."""
    given = {k: v for k, v in (("fingerprint", fingerprint), ("certificate", certificate), ("cn", cn))
             if v is not None}
    if method != "tls":
        if given:
            raise click.UsageError(f"--{next(iter(given))} applies to --method tls only")
        return None
    if len(given) > 1 or (required and not given):
        raise click.UsageError("--method tls takes exactly one of --fingerprint, --certificate, --cn")
    if not given:
        return None
    if certificate is not None:
        try:
            with open(certificate, "rb") as f:
                pem = f.read()
        except OSError as exc:
            raise click.ClickException(f"--certificate: cannot read {certificate}: {exc.strerror}") from None
        try:
            return {"sha256": tls.pem_fingerprint(pem)}
        except ValueError:
            raise click.ClickException(f"--certificate: {certificate} is not a PEM certificate") from None
    return {"sha256": fingerprint} if fingerprint is not None else {"cn": str(cn)}


@click.command()
@click.argument("authid")
@db_option
@click.option("--realm", default="realm1", show_default=True, help="The WAMP realm.")
@certificate_options
@json_option
@management_errors
def certificate(authid: str, db: str | None, realm: str, fingerprint: str | None, certificate: str | None,
                cn: str | None, as_json: bool) -> None:
    """Set (or replace) the TLS client certificate AUTHID logs in with."""
    match = cast(dict[str, str], certificate_match("tls", fingerprint, certificate, cn))  # required: never None
    with management(db, write=True) as m:
        principal = m.principals.get_by((realm, authid))
        m.principals.set_credential(principal.oid, "tls", match)
    ((kind, value),) = tls.check(match).items()
    if as_json:
        emit_json({"realm": realm, "authid": authid, "method": "tls", kind: value})
    else:
        click.echo(f"{authid!r} on realm {realm!r} logs in with the TLS client certificate of {kind} {value}")
