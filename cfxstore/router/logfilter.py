"""Keep cookie values, tickets and Authorization headers out of every log line.

Crossbar and Autobahn log raw cookie values ("parsed tracking/authentication
cookie cbtid ...", "setting new cookie ..." at info and debug), whole HTTP
requests and responses with their Cookie and Set-Cookie headers, and WAMP
messages with their signatures (trace). A copied log would hand out sessions.

Twisted passes one event dict to every observer in turn, so the filter is the
first observer of the global log publisher and rewrites the event in place
before any other observer formats or writes it: values of secret fields
become "[redacted]", and secrets inside text (header lines, ``name=value``
cookie pairs, ``signature=...``) are cut out of strings, bytes, containers and
the text form of Autobahn/Crossbar objects. It is installed in the node
controller and in every worker (workers forward their events to the
controller as JSON, which is filtered again there).
"""

from __future__ import annotations

import functools
import re
from typing import Any, cast

from twisted.logger import ILogObserver, LogLevel, globalLogPublisher

from orm.engine import pgurl

REDACTED = "[redacted]"
SECRET_FIELDS = frozenset({"cbtid", "http_cbtid", "cookie", "set-cookie", "set_cookie", "cookie_deleted",
                           "ticket", "signature", "secret", "password", "authorization", "proxy-authorization",
                           "proxy_authorization"})
# Event keys that hold no user data (or objects the formatter needs intact).
_SKIP = frozenset({"log_logger", "log_source", "log_level", "log_namespace", "log_time", "log_failure",
                   "log_system", "log_trace", "log_io", "log_observer", "log_category"})
_HEADER = re.compile(r"(?im)^([ \t]*(?:proxy-)?authorization|[ \t]*(?:set-)?cookie)([ \t]*:[ \t]*)(?![ \t{])[^\r\n]*")
# Values, not format placeholders: "signature={signature}" in a log_format stays intact.
_FIELD = re.compile(r"(?i)\b(signature|ticket|\w*secret|\w*password|authorization)(['\"]?[ \t]*[=:][ \t]*)"
                    r"('[^']*'|\"[^\"]*\"|[^\s,;)}\]{][^\s,;)}\]]*)")
# A PostgreSQL URL anywhere in text is shown as pgurl.redact shows it (userinfo and secret parameters masked).
_PG_URL = re.compile(r"(?i)\bpostgres(?:ql)?://[^\s'\"<>]+")
_cookie_names: set[str] = {"cbtid"}
_cookie_pair = re.compile(r"\b(cbtid)=(\"?)(?!\{)[^\s;,\"']+")
_MAX_DEPTH = 8
# Words each pattern needs (case-folded; cookie pairs as written): a text without them skips the
# pattern, so that a log line costs a few substring tests instead of four regular expression scans.
_PG_WORDS = ("postgres",)
_HEADER_WORDS = ("cookie", "authorization")
_FIELD_WORDS = ("signature", "ticket", "secret", "password", "authorization")
_pair_starts: tuple[str, ...] = ("cbtid=",)


def add_cookie_name(name: str) -> None:
    """Also cut ``name=value`` pairs of this cookie name out of log text."""
    global _cookie_pair, _pair_starts
    if name not in _cookie_names:
        _cookie_names.add(name)
        names = "|".join(sorted(map(re.escape, _cookie_names)))
        _cookie_pair = re.compile(rf"\b({names})=(\"?)(?!\{{)[^\s;,\"']+")
        _pair_starts = tuple(f"{n}=" for n in sorted(_cookie_names))


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def scrub_text(text: str) -> str:
    """text with header values, cookie pairs and signature/ticket fields replaced by [redacted]."""
    if "=" not in text and ":" not in text:
        return text
    # casefold, and dotless i as i: every character the patterns' (?i) matches as one of these letters.
    low = text.casefold().replace("\u0131", "i")
    if _has(low, _PG_WORDS):
        text = _PG_URL.sub(lambda m: pgurl.redact(m.group(0)), text)
    if _has(low, _HEADER_WORDS):
        text = _HEADER.sub(rf"\1\2{REDACTED}", text)
    if _has(text, _pair_starts):
        text = _cookie_pair.sub(rf"\1=\2{REDACTED}", text)
    if _has(low, _FIELD_WORDS):
        text = _FIELD.sub(rf"\1\2{REDACTED}", text)
    return text


@functools.lru_cache(maxsize=4096)  # field names repeat: every event of a call site has the same ones
def _is_secret(key: Any) -> bool:
    # Flattened events name fields "cbtid!:" or "cbtid!r:"; keep the field name.
    if not isinstance(key, str):
        return False
    name = key.split("!", 1)[0].split(":", 1)[0].lower()
    return name in SECRET_FIELDS or name.endswith(("password", "secret"))


def _field(key: Any, value: Any, depth: int = 0) -> Any:
    """A field's value without secrets: a secret-named text is replaced whole; structured
    values are scrubbed inside (Crossbar's "authorization" is a permission dict, which
    its format strings index)."""
    if _is_secret(key) and isinstance(value, (str, bytes, bytearray, int)) and not isinstance(value, bool):
        return REDACTED
    return _scrub(value, depth)


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("latin-1")
        cleaned = scrub_text(text)
        return value if cleaned == text else cleaned.encode("latin-1")
    if depth >= _MAX_DEPTH or value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {k: _field(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, depth + 1) for v in value) if type(value) in (list, tuple) else value
    module = type(value).__module__ or ""
    if module.startswith(("autobahn.", "crossbar.")):
        text = str(value)
        cleaned = scrub_text(text)
        return value if cleaned == text else cleaned
    return value


def _per_connection_cookie_line(event: dict[str, Any]) -> bool:
    # Crossbar logs each WebSocket connection's cookie handling at info ("setting new cookie",
    # "authenticated client via cookie", ...): detail an operator needs only when debugging,
    # and at info three lines per login that every worker formats and sends to the controller.
    return (event.get("log_level") is LogLevel.info
            and "cookie" in (event.get("log_format") or "")
            and str(event.get("log_namespace") or "").startswith("crossbar.router.protocol"))


def redact(event: dict[str, Any]) -> None:
    """Remove secrets from a log event, in place (and move per-connection cookie lines to debug)."""
    if _per_connection_cookie_line(event):
        event["log_level"] = LogLevel.debug
    # Crossbar's config reader logs the value of a config item it resolves ("...principals[x].ticket").
    item = event.get("config_item")
    if isinstance(item, str) and _is_secret(item.rsplit(".", 1)[-1]) and "value" in event:
        event["value"] = REDACTED
    for key, value in list(event.items()):
        if key in _SKIP or value is None:
            continue
        cleaned = _field(key, value)
        if cleaned is not value:
            event[key] = cleaned


_installed = False


def install() -> None:
    """Make redact() the first observer of this process's global log publisher (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    # Private but stable since Twisted 15.2: observers run in list order on one shared event.
    globalLogPublisher._observers.insert(0, cast(ILogObserver, redact))  # a plain callable is an observer
