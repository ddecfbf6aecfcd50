"""Validation of the cfxstore items in a Crossbar node configuration.

Each ``parse_*`` function takes the raw dict from the node config, checks every
key (unknown keys are errors, so a typo never silently falls back to a
default) and returns a frozen dataclass. Errors are RouterConfigError naming
the dotted key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from typing import Any, Mapping, TypeGuard

from cfxstore.node.errors import RouterConfigError
from cfxstore.realmstore.rules import UriRule
from orm.engine.pgurl import is_url

STORE_TYPE = "cfxstore"
DEFAULT_DB_PATH = "cfxstore-db"
DEFAULT_MAXSIZE = 2**30
MIN_MAXSIZE = 65536
# A cookie value carries at least this much randomness, whatever "length" asks for.
MIN_COOKIE_BYTES = 16
MATCH_POLICIES = ("exact", "prefix", "wildcard")

_COOKIE_NAME = re.compile(r"^[a-z][a-z0-9_]+$")
_MAX_COOKIE_AGE = 86400 * 360 * 10
_SAME_SITE = ("Strict", "Lax", "None")


# --- small checkers: each raises RouterConfigError naming the key ---

def _mapping(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RouterConfigError(key, f"expected a dict, got {type(value).__name__}")
    return value


def _known(key: str, item: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name in item:
        if name not in allowed:
            raise RouterConfigError(_join(key, name), f"unknown key (allowed: {', '.join(allowed)})")


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RouterConfigError(key, f"expected true or false, got {_shown(value)}")
    return value


# No setting needs more: larger numbers are refused here, not by whatever uses them (OverflowError).
_INT_MAX = 2**63 - 1


def _shown(value: Any) -> str:
    """value for an error message: huge numbers are not printed in full (nor can they be, past 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_MAX:
        return f"a {value.bit_length()}-bit integer"
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _int(key: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RouterConfigError(key, f"expected an integer, got {_shown(value)}")
    if lo is not None and value < lo:
        raise RouterConfigError(key, f"must be >= {lo}, got {_shown(value)}")
    hi = _INT_MAX if hi is None else hi
    if value > hi:
        raise RouterConfigError(key, f"must be <= {hi}, got {_shown(value)}")
    return value


def _number(key: str, value: Any, lo: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, int) and abs(value) > _INT_MAX) or not math.isfinite(value):
        raise RouterConfigError(key, f"expected a finite number up to {_INT_MAX}, got {_shown(value)}")
    if value < lo:
        raise RouterConfigError(key, f"must be >= {lo}, got {value}")
    return float(value)


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise RouterConfigError(key, f"expected a non-empty string, got {_shown(value)}")
    return value


def _optional(key: str, value: Any, check: Any, *args: Any) -> Any:
    return None if value is None else check(key, value, *args)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def resolve_path(path: str, cbdir: str | None) -> str:
    """An absolute path (relative ones are taken relative to the node directory); a PostgreSQL URL as is."""
    if is_url(path):
        return path
    if os.path.isabs(path) or not cbdir:
        return os.path.abspath(path)
    return os.path.abspath(os.path.join(cbdir, path))


# --- the database part shared by every cfxstore item ---

@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    path: str = DEFAULT_DB_PATH
    maxsize: int = DEFAULT_MAXSIZE
    sync: bool = True


def _database(key: str, item: Mapping[str, Any]) -> DatabaseConfig:
    if item.get("readonly", False) is not False:
        raise RouterConfigError(_join(key, "readonly"), "a cfxstore store must be writable (readonly: false)")
    return DatabaseConfig(
        path=_str(_join(key, "path"), item.get("path", DEFAULT_DB_PATH)),
        maxsize=_int(_join(key, "maxsize"), item.get("maxsize", DEFAULT_MAXSIZE), MIN_MAXSIZE),
        sync=_bool(_join(key, "sync"), item.get("sync", True)),
    )


# --- transport "cookie" item with a cfxstore "store" ---

@dataclasses.dataclass(frozen=True)
class CookieConfig:
    """A transport's cookie settings (Crossbar's keys) plus the cfxstore store settings."""

    database: DatabaseConfig
    name: str = "cbtid"
    length: int = 24
    nbytes: int = 18
    max_age: int = 7 * 86400
    purge_on_startup: bool = False
    purge_interval: float = 3600.0
    flush_ms: int = 20
    max_pending: int = 10000
    cache_ttl: float = 1.0
    cache_size: int = 100_000
    # Unknown cookie values under 128 bits (imported short ones can be guessed) per client address before
    # that address's short values are ignored for a while; None: no limit.
    guess_free_failures: int | None = 10
    trusted_proxies: tuple[str, ...] = ()   # as the authenticator's throttle settings
    ipv6_prefix: int = 64
    # Set when "length" asked for fewer than MIN_COOKIE_BYTES random bytes.
    length_warning: str | None = None


_COOKIE_KEYS = ("name", "length", "max_age", "store", "secure", "http_strict", "same_site")
_COOKIE_STORE_KEYS = ("type", "path", "maxsize", "sync", "readonly", "purge_on_startup", "purge_interval",
                      "flush_ms", "max_pending", "cache_ttl", "cache_size", "guess_free_failures",
                      "trusted_proxies", "ipv6_prefix")


def is_cfxstore_cookie(cookie: Any) -> TypeGuard[Mapping[str, Any]]:
    """True for a transport "cookie" item whose store is cfxstore."""
    return (isinstance(cookie, Mapping) and isinstance(cookie.get("store"), Mapping)
            and cookie["store"].get("type") == STORE_TYPE)


def parse_cookie(cookie: Mapping[str, Any], key: str = "cookie") -> CookieConfig:
    """Validate a transport's "cookie" item whose store type is "cfxstore"."""
    cookie = _mapping(key, cookie)
    _known(key, cookie, _COOKIE_KEYS)
    name = _str(_join(key, "name"), cookie.get("name", "cbtid"))
    if not _COOKIE_NAME.match(name):
        raise RouterConfigError(_join(key, "name"), f"{name!r} must match {_COOKIE_NAME.pattern}")
    length = _int(_join(key, "length"), cookie.get("length", 24), 6, 64)
    max_age = _int(_join(key, "max_age"), cookie.get("max_age", 7 * 86400), 1, _MAX_COOKIE_AGE)
    for flag in ("secure", "http_strict"):
        if flag in cookie:
            _bool(_join(key, flag), cookie[flag])
    if "same_site" in cookie and cookie["same_site"] not in _SAME_SITE:
        raise RouterConfigError(_join(key, "same_site"), f"expected one of {', '.join(_SAME_SITE)}, "
                                                         f"got {cookie['same_site']!r}")

    skey = _join(key, "store")
    store = _mapping(skey, cookie.get("store"))
    _known(skey, store, _COOKIE_STORE_KEYS)
    if store.get("type") != STORE_TYPE:
        raise RouterConfigError(_join(skey, "type"), f"expected {STORE_TYPE!r}, got {store.get('type')!r}")

    # Crossbar's "length" counts base64 characters (6 bits each).
    nbytes = math.ceil(length * 6 / 8)
    warning = None
    if nbytes < MIN_COOKIE_BYTES:
        warning = (f"{key}.length={length} gives only {nbytes * 8} random bits; cookie values use "
                   f"{MIN_COOKIE_BYTES * 8} bits ({MIN_COOKIE_BYTES} bytes) instead")
        nbytes = MIN_COOKIE_BYTES
    return CookieConfig(
        database=_database(skey, store),
        name=name,
        length=length,
        nbytes=nbytes,
        max_age=max_age,
        purge_on_startup=_bool(_join(skey, "purge_on_startup"), store.get("purge_on_startup", False)),
        purge_interval=_number(_join(skey, "purge_interval"), store.get("purge_interval", 3600.0)),
        flush_ms=_int(_join(skey, "flush_ms"), store.get("flush_ms", 20), 1, 60_000),
        max_pending=_int(_join(skey, "max_pending"), store.get("max_pending", 10000), 1),
        cache_ttl=_number(_join(skey, "cache_ttl"), store.get("cache_ttl", 1.0)),
        cache_size=_int(_join(skey, "cache_size"), store.get("cache_size", 100_000), 0),
        guess_free_failures=_optional(_join(skey, "guess_free_failures"), store.get("guess_free_failures", 10),
                                      _int, 0),
        trusted_proxies=_networks(_join(skey, "trusted_proxies"), store.get("trusted_proxies", [])),
        ipv6_prefix=_int(_join(skey, "ipv6_prefix"), store.get("ipv6_prefix", 64), 1, 128),
        length_warning=warning,
    )


# --- realm "store" item of type cfxstore ---

@dataclasses.dataclass(frozen=True)
class RetentionConfig:
    max_age: float | None = None      # seconds; older events are purged
    keep_last: int | None = None      # events kept per subscription
    interval: float = 600.0           # seconds between purges


@dataclasses.dataclass(frozen=True)
class RealmStoreConfig:
    database: DatabaseConfig
    event_history: tuple[UriRule, ...] = ()
    call_queue: tuple[UriRule, ...] | None = None   # None: queue every call (as the memory store does)
    limit: int = 1000
    session_history: bool = True
    buffer_flush_ms: int = 50
    max_buffer: int = 10000
    retention: RetentionConfig = RetentionConfig()


_REALM_STORE_KEYS = ("type", "path", "maxsize", "sync", "readonly", "event-history", "call-queue", "limit",
                     "session-history", "buffer-flush", "max-buffer", "retention")
_RULE_KEYS = ("uri", "match", "limit")
_RETENTION_KEYS = ("max-age", "keep-last", "interval")


def _rules(key: str, value: Any) -> tuple[UriRule, ...]:
    if not isinstance(value, list):
        raise RouterConfigError(key, f"expected a list, got {type(value).__name__}")
    rules = []
    for i, item in enumerate(value):
        ikey = f"{key}[{i}]"
        item = _mapping(ikey, item)
        _known(ikey, item, _RULE_KEYS)
        uri = item.get("uri")
        if not isinstance(uri, str):
            raise RouterConfigError(_join(ikey, "uri"), f"expected a string, got {uri!r}")
        match = item.get("match", "exact")
        if match not in MATCH_POLICIES:
            raise RouterConfigError(_join(ikey, "match"), f"expected one of {', '.join(MATCH_POLICIES)}, "
                                                          f"got {match!r}")
        limit = _optional(_join(ikey, "limit"), item.get("limit"), _int, 1)
        rules.append(UriRule(uri=uri, match=match, limit=limit))
    return tuple(rules)


def parse_realm_store(store: Mapping[str, Any], key: str = "store") -> RealmStoreConfig:
    """Validate a realm's "store" item of type "cfxstore"."""
    store = _mapping(key, store)
    _known(key, store, _REALM_STORE_KEYS)
    if store.get("type") != STORE_TYPE:
        raise RouterConfigError(_join(key, "type"), f"expected {STORE_TYPE!r}, got {store.get('type')!r}")
    rkey = _join(key, "retention")
    retention = _mapping(rkey, store.get("retention", {}))
    _known(rkey, retention, _RETENTION_KEYS)
    return RealmStoreConfig(
        database=_database(key, store),
        event_history=_rules(_join(key, "event-history"), store.get("event-history", [])),
        call_queue=(None if "call-queue" not in store
                    else _rules(_join(key, "call-queue"), store["call-queue"])),
        limit=_int(_join(key, "limit"), store.get("limit", 1000), 1),
        session_history=_bool(_join(key, "session-history"), store.get("session-history", True)),
        buffer_flush_ms=_int(_join(key, "buffer-flush"), store.get("buffer-flush", 50), 1, 60_000),
        max_buffer=_int(_join(key, "max-buffer"), store.get("max-buffer", 10000), 1),
        retention=RetentionConfig(
            max_age=_optional(_join(rkey, "max-age"), retention.get("max-age"), _number),
            keep_last=_optional(_join(rkey, "keep-last"), retention.get("keep-last"), _int, 1),
            interval=_number(_join(rkey, "interval"), retention.get("interval", 600.0), 1.0),
        ),
    )


# --- "config" of the function authenticator ---

@dataclasses.dataclass(frozen=True)
class ThrottleConfig:
    free_failures: int = 3        # failures allowed before a lockout starts
    base_delay: float = 1.0       # seconds of the first lockout, doubled per further failure
    max_delay: float = 300.0
    max_tracked: int = 100_000    # keys remembered per throttle (cleanest dropped first)
    peer_free_failures: int | None = 100   # failures per peer address before it is locked; None: no peer limit
    attempt_timeout: float = 30.0  # seconds an unanswered attempt (an abandoned challenge) counts as in flight
    max_verifying: int = 2        # slow (argon2id) verifications running at once, in their own threads
    max_waiting: int = 100        # slow verifications queued behind those; more are refused at once
    deny_delay: float = 1.0       # every failed login is answered this long after it began (0: at once)
    trusted_proxies: tuple[str, ...] = ()  # CIDRs of reverse proxies whose X-Forwarded-For names the client
    ipv6_prefix: int = 64         # IPv6 clients are counted by this many leading bits of their address


@dataclasses.dataclass(frozen=True)
class Argon2Config:
    """argon2id cost for human-chosen tickets (OWASP 2023: 19 MiB, 2 passes, 1 lane)."""

    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


@dataclasses.dataclass(frozen=True)
class WampcraConfig:
    """PBKDF2 parameters shown to unknown authids (match those of real users); role of those decoys."""

    iterations: int = 600_000
    keylen: int = 32
    decoy_role: str = "user"


@dataclasses.dataclass(frozen=True)
class ScramConfig:
    """WAMP-SCRAM parameters shown to unknown authids (match those of real users); role of those decoys."""

    kdf: str = "argon2id-13"
    iterations: int = 2
    memory: int = 19456
    decoy_role: str = "user"


@dataclasses.dataclass(frozen=True)
class TlsConfig:
    """CA certificate files (relative to the node directory) whose certificates may be matched by subject CN."""

    cn_issuers: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    database: DatabaseConfig
    throttle: ThrottleConfig = ThrottleConfig()
    argon2: Argon2Config = Argon2Config()
    wampcra: WampcraConfig = WampcraConfig()
    scram: ScramConfig = ScramConfig()
    tls: TlsConfig = TlsConfig()


_AUTH_KEYS = ("path", "maxsize", "sync", "readonly", "throttle", "argon2", "wampcra", "scram", "tls")
_SCRAM_KEYS = ("kdf", "iterations", "memory", "decoy_role")
_TLS_KEYS = ("cn_issuers",)
_THROTTLE_KEYS = ("free_failures", "base_delay", "max_delay", "max_tracked", "peer_free_failures",
                  "attempt_timeout", "max_verifying", "max_waiting", "deny_delay", "trusted_proxies",
                  "ipv6_prefix")
_ARGON2_KEYS = ("memory_kib", "time_cost", "parallelism")
_WAMPCRA_KEYS = ("iterations", "keylen", "decoy_role")


def _section(key: str, config: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> tuple[str, Mapping]:
    skey = _join(key, name)
    item = _mapping(skey, config.get(name, {}))
    _known(skey, item, allowed)
    return skey, item


def _networks(key: str, value: Any) -> tuple[str, ...]:
    """A list of CIDRs ("10.0.0.0/8", "::1"), normalised; host bits set are an error."""
    if not isinstance(value, list):
        raise RouterConfigError(key, f"expected a list of CIDRs, got {_shown(value)}")
    networks = []
    for i, item in enumerate(value):
        try:
            networks.append(str(ipaddress.ip_network(_str(f"{key}[{i}]", item))))
        except ValueError as exc:
            raise RouterConfigError(f"{key}[{i}]", f"not a CIDR: {exc}") from None
    return tuple(networks)


def _throttle(key: str, item: Mapping[str, Any]) -> ThrottleConfig:
    d = ThrottleConfig()
    parsed = ThrottleConfig(
        free_failures=_int(_join(key, "free_failures"), item.get("free_failures", d.free_failures), 0),
        base_delay=_number(_join(key, "base_delay"), item.get("base_delay", d.base_delay)),
        max_delay=_number(_join(key, "max_delay"), item.get("max_delay", d.max_delay)),
        max_tracked=_int(_join(key, "max_tracked"), item.get("max_tracked", d.max_tracked), 1),
        peer_free_failures=_optional(_join(key, "peer_free_failures"),
                                     item.get("peer_free_failures", d.peer_free_failures), _int, 0),
        attempt_timeout=_number(_join(key, "attempt_timeout"), item.get("attempt_timeout", d.attempt_timeout), 1.0),
        max_verifying=_int(_join(key, "max_verifying"), item.get("max_verifying", d.max_verifying), 1, 256),
        max_waiting=_int(_join(key, "max_waiting"), item.get("max_waiting", d.max_waiting), 0),
        deny_delay=_number(_join(key, "deny_delay"), item.get("deny_delay", d.deny_delay)),
        trusted_proxies=_networks(_join(key, "trusted_proxies"), item.get("trusted_proxies", [])),
        ipv6_prefix=_int(_join(key, "ipv6_prefix"), item.get("ipv6_prefix", d.ipv6_prefix), 1, 128),
    )
    if parsed.max_delay < parsed.base_delay:
        raise RouterConfigError(_join(key, "max_delay"), "must be >= base_delay")
    return parsed


def parse_auth(config: Mapping[str, Any] | None, key: str = "auth.config") -> AuthConfig:
    """Validate the "config" item handed to cfxstore.router.auth.create_authenticator."""
    config = _mapping(key, config or {})
    _known(key, config, _AUTH_KEYS)
    tkey, throttle = _section(key, config, "throttle", _THROTTLE_KEYS)
    akey, argon2 = _section(key, config, "argon2", _ARGON2_KEYS)
    wkey, wampcra = _section(key, config, "wampcra", _WAMPCRA_KEYS)
    skey, scram = _section(key, config, "scram", _SCRAM_KEYS)
    lkey, tls = _section(key, config, "tls", _TLS_KEYS)
    a, w, sc = Argon2Config(), WampcraConfig(), ScramConfig()
    issuers = tls.get("cn_issuers", [])
    if not isinstance(issuers, list) or not all(isinstance(i, str) and i for i in issuers):
        raise RouterConfigError(_join(lkey, "cn_issuers"), "must be a list of CA certificate file names")
    kdf = scram.get("kdf", sc.kdf)
    if kdf not in ("argon2id-13", "pbkdf2"):
        raise RouterConfigError(_join(skey, "kdf"), "must be argon2id-13 or pbkdf2")
    return AuthConfig(
        database=_database(key, config),
        throttle=_throttle(tkey, throttle),
        argon2=Argon2Config(
            memory_kib=_int(_join(akey, "memory_kib"), argon2.get("memory_kib", a.memory_kib), 8, 2**22),
            time_cost=_int(_join(akey, "time_cost"), argon2.get("time_cost", a.time_cost), 1, 100),
            parallelism=_int(_join(akey, "parallelism"), argon2.get("parallelism", a.parallelism), 1, 64),
        ),
        wampcra=WampcraConfig(
            iterations=_int(_join(wkey, "iterations"), wampcra.get("iterations", w.iterations), 1, 10**8),
            keylen=_int(_join(wkey, "keylen"), wampcra.get("keylen", w.keylen), 16, 64),
            decoy_role=_str(_join(wkey, "decoy_role"), wampcra.get("decoy_role", w.decoy_role)),
        ),
        scram=ScramConfig(
            kdf=kdf,
            iterations=_int(_join(skey, "iterations"), scram.get("iterations", sc.iterations), 1, 10**8),
            memory=_int(_join(skey, "memory"), scram.get("memory", sc.memory), 0, 2**22),
            decoy_role=_str(_join(skey, "decoy_role"), scram.get("decoy_role", sc.decoy_role)),
        ),
        tls=TlsConfig(cn_issuers=tuple(issuers)),
    )


# --- Web transport path services: health check and metrics ---

HEALTH_SERVICE = "cfxstore-health"
METRICS_SERVICE = "cfxstore-metrics"


@dataclasses.dataclass(frozen=True)
class HealthConfig:
    """When the health path answers 503: a write-behind queue or lag past these, a database probe
    unanswered for longer than max_wait, or any database down."""

    max_queue: int = 50_000
    max_lag: float = 5.0
    max_wait: float = 3.0


def parse_monitoring(service: Mapping[str, Any], key: str) -> HealthConfig | None:
    """Validate a "cfxstore-health" (its HealthConfig) or "cfxstore-metrics" (None) path service."""
    service = _mapping(key, service)
    if service.get("type") == METRICS_SERVICE:
        _known(key, service, ("type", "id"))
        return None
    _known(key, service, ("type", "id", "max_queue", "max_lag", "max_wait"))
    d = HealthConfig()
    return HealthConfig(max_queue=_int(_join(key, "max_queue"), service.get("max_queue", d.max_queue), 1),
                        max_lag=_number(_join(key, "max_lag"), service.get("max_lag", d.max_lag)),
                        max_wait=_number(_join(key, "max_wait"), service.get("max_wait", d.max_wait), 0.1))
