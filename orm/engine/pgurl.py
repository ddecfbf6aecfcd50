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


#: URL parameters shown in logs and errors: orm's options and the libpq keywords that carry no secret
#: (names, paths, modes, timeouts). Every other parameter - password, sslpassword, oauth_client_secret,
#: and any keyword a later libpq adds - is taken for a secret and never shown.
SHOWN_PARAMS = frozenset({
    *ORM_OPTIONS, "application_name", "fallback_application_name", "host", "hostaddr", "port", "dbname",
    "user", "passfile", "channel_binding", "connect_timeout", "client_encoding", "options", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication",
    "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression", "sslcert", "sslkey",
    "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer", "require_auth",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version", "max_protocol_version",
    "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs", "load_balance_hosts",
    "oauth_issuer", "oauth_client_id", "oauth_scope",
})
MASK = "***"


def is_secret_param(name: str) -> bool:
    """True for a URL parameter that may carry a secret (every one not known to carry none)."""
    return name.lower() not in SHOWN_PARAMS


def redact(url: str) -> str:
    """The URL with its password and every secret-bearing parameter replaced by ``***`` (for logs and errors)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    query = urlencode([(k, MASK if is_secret_param(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*/")
    netloc = parts.netloc
    if password is not None:
        userinfo, at, hosts = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}{at}{hosts}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def shown(path: str) -> str:
    """path as it may be logged: a URL redacted, anything else unchanged."""
    return redact(path) if is_url(path) else path


def secrets_of(url: str) -> list[str]:
    """The secret values a URL carries (its password and secret-bearing parameters), each non-empty."""
    try:
        parts = urlsplit(url)
        found = [parts.password] + [v for k, v in parse_qsl(parts.query) if is_secret_param(k)]
    except ValueError:
        return []
    return [secret for secret in found if secret]


def scrub(message: str, url: str) -> str:
    """message with every secret of the URL (plain or percent-encoded) replaced by ``***``."""
    for secret in secrets_of(url):
        for form in sorted({secret, unquote(secret), quote(secret, safe="")}, key=len, reverse=True):
            message = message.replace(form, MASK)
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
        for host in parts.netloc.rpartition("@")[2].split(","):  # libpq's host1:port1,host2:port2 form too
            urlsplit(f"//{host}").port  # noqa: B018 - raises ValueError on a bad port
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
