"""PostgreSQL URLs: recognising them, splitting orm's options off, tagging connections, redacting credentials."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import DatabaseError

SCHEMES = ("postgresql", "postgres")
#: Query parameters orm reads itself; every other one goes to libpq unchanged.
ORM_OPTIONS = {"schema": "cfxstore", "pool_min": "1", "pool_max": "8", "timeout": "10"}
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: PostgreSQL keeps this many bytes of application_name (NAMEDATALEN - 1) and drops the rest.
NAME_LIMIT = 63
_TAG_SCHEMA_ROOM = 31  # leaves room in NAME_LIMIT for the process part


def tag_prefix(schema: str) -> str:
    """``cfxstore:<schema>:``, the start of application_name on every connection to schema.

    A schema too long to leave room for the process part is shortened to its
    start plus a hash, which keeps the prefix unique to it.
    """
    if len(schema) > _TAG_SCHEMA_ROOM:
        schema = f"{schema[:_TAG_SCHEMA_ROOM - 9]}~{hashlib.sha1(schema.encode()).hexdigest()[:8]}"
    return f"cfxstore:{schema}:"


def process_tag(schema: str) -> str:
    """This process's own tag for schema: the prefix plus ``<pid>@<host>`` (no ``:`` or space in it)."""
    host = socket.gethostname().split(".", 1)[0].replace(" ", "_").replace(":", "_")
    tag = f"{tag_prefix(schema)}{os.getpid()}@{host}"
    return tag.encode("ascii", "replace")[:NAME_LIMIT].decode("ascii")


def application_name(schema: str, given: str | None) -> str:
    """This process's tag, then the URL's own application_name (if any) in what is left of the limit.

    The tag comes first so that it survives PostgreSQL's truncation: the
    in-use check of ``cfxstore migrate`` finds connections by it.
    """
    tag = process_tag(schema)
    given = given or os.environ.get("PGAPPNAME")  # libpq's own default, which this setting would hide
    if not given:
        return tag
    room = NAME_LIMIT - len(tag) - 1
    rest = given.encode("utf-8")[:max(room, 0)].decode("utf-8", "ignore")
    return f"{tag} {rest}" if rest else tag


def is_url(path: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(path, str) and path.split("://", 1)[0].lower() in SCHEMES and "://" in path


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and error messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)], safe="*")
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def shown(path: str) -> str:
    """path as it may be logged: a URL redacted, anything else unchanged."""
    return redact(path) if is_url(path) else path


def scrub(message: str, url: str) -> str:
    """message with the URL's password (plain or percent-encoded) removed."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password] + [v for k, v in parse_qsl(parts.query) if k == "password"]
    except ValueError:
        return message
    for secret in filter(None, secrets):
        for form in {secret, unquote(secret), quote(secret, safe="")}:
            message = message.replace(form, "***")
    return message


@dataclass(frozen=True)
class PgUrl:
    """A parsed URL: the libpq connection string plus orm's own options."""

    conninfo: str
    schema: str
    pool_min: int
    pool_max: int
    timeout: float
    redacted: str
    #: What every connection sets as application_name (see application_name()).
    application_name: str


def parse(url: str) -> PgUrl:
    """Split url into libpq's part and orm's options; a DatabaseError names what is wrong."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise DatabaseError(f"bad PostgreSQL URL {shown}: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise DatabaseError(f"bad PostgreSQL URL {shown}: the scheme must be postgresql://")
    options = dict(ORM_OPTIONS)
    rest = []
    given = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "application_name":
            given = value
        elif key in options:
            options[key] = value
        else:
            rest.append((key, value))
    schema = options["schema"]
    if not _IDENT.fullmatch(schema):
        raise DatabaseError(f"bad PostgreSQL URL {shown}: schema {schema!r} must be a lower-case SQL "
                            "identifier (letters, digits, _)")
    try:
        pool_min, pool_max, timeout = int(options["pool_min"]), int(options["pool_max"]), float(options["timeout"])
    except ValueError:
        raise DatabaseError(f"bad PostgreSQL URL {shown}: pool_min, pool_max must be integers and "
                            "timeout a number of seconds") from None
    if not 0 <= pool_min <= pool_max or pool_max < 1 or timeout <= 0:
        raise DatabaseError(f"bad PostgreSQL URL {shown}: need 0 <= pool_min <= pool_max, pool_max >= 1, "
                            "timeout > 0")
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
    keep = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "schema"]
    public = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(keep), ""))
    return PgUrl(conninfo, schema, pool_min, pool_max, timeout, redact(public), application_name(schema, given))
