"""The per-process state behind cfxstore cookie stores: cache, write-behind, connections.

All transports of a router worker that keep cookies in the same database share
one CookieBackend, so a cookie issued on one transport is seen at once on the
others and a revocation reaches every connection.

Durability policy:

* creating a cookie and recording a login are written behind: kept in memory
  at once and committed in batches (one transaction, one fsync per batch) by
  a thread, every ``flush_ms``. A crash can lose the logins of the last few
  milliseconds (their users log in again); a clean stop loses nothing.
* deleting (logout, revocation, purge) is written through before returning,
  so a deleted cookie can never come back.

Reads see pending writes first, then a short-lived cache (``cache_ttl``
seconds; a deletion made by another process, e.g. the CLI, is seen by new
connections after at most that long), then the database.

Threading: every method except the batch writer runs on the reactor thread.
``_write_lock`` serialises database writes between the reactor thread and the
writer thread; a batch is written exactly once, by whichever gets there first.
"""

from __future__ import annotations

import secrets
import threading
from time import monotonic
from typing import Any, Callable

from orm.keys import random_uuid

from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import CookieService
from cfxstore.router.config import CookieConfig
from cfxstore.timeutil import NS_PER_SECOND, now_ns

_hash = CookieService.hash_value


class _Batch:
    """Cookies (by value hash) waiting to be committed together."""

    __slots__ = ("cookies", "written")

    def __init__(self) -> None:
        self.cookies: dict[bytes, Cookie] = {}
        self.written = False


class CookieBackend:
    """Cookies of one database as seen by one router worker process."""

    def __init__(self, service: CookieService, config: CookieConfig, reactor: Any = None,
                 defer_to_thread: Callable[..., Any] | None = None) -> None:
        self.service = service
        self._schema = service.schema
        self._flush_delay = config.flush_ms / 1000.0
        self._max_pending = config.max_pending
        self._cache_ttl = config.cache_ttl
        self._cache_size = config.cache_size
        self._reactor = reactor
        self._defer_to_thread = defer_to_thread
        self._write_lock = threading.Lock()
        self._pending = _Batch()
        self._inflight: _Batch | None = None
        self._flush_call: Any = None
        # value hash -> (cookie, monotonic time it was read from the database)
        self._cache: dict[bytes, tuple[Cookie, float]] = {}
        # value hash -> connections (Crossbar protocol objects) that presented or got the cookie
        self._protos: dict[bytes, set[Any]] = {}

    # -- reads -----------------------------------------------------------------

    def lookup(self, value_hash: bytes) -> Cookie | None:
        """The live cookie with this value hash, or None (unknown or expired).

        A fresh cache entry comes first: staging a cookie also caches it, so
        the cache never holds an older version than the pending batches.
        """
        cached = self._cache.get(value_hash)
        if cached is not None and monotonic() - cached[1] < self._cache_ttl:
            cookie = cached[0]
        else:
            cookie = self._pending.cookies.get(value_hash)
            if cookie is None and self._inflight is not None:
                cookie = self._inflight.cookies.get(value_hash)
            if cookie is None:
                cookie = self._read(value_hash)
        if cookie is None or cookie.expires <= now_ns():
            return None
        return cookie

    def _read(self, value_hash: bytes) -> Cookie | None:
        with self.service.db.begin() as txn:
            cookie = self._schema.cookies.get_by_index(txn, "idx_cookies_by_value", value_hash)
        if cookie is None:
            self._cache.pop(value_hash, None)
        elif self._cache_ttl > 0 and self._cache_size > 0:
            self._remember(value_hash, cookie)
        return cookie

    def _remember(self, value_hash: bytes, cookie: Cookie) -> None:
        cache = self._cache
        if len(cache) >= self._cache_size:
            # Drop the older half (dicts keep insertion order): cheap and rare.
            for key in list(cache)[: len(cache) // 2 + 1]:
                del cache[key]
        cache[value_hash] = (cookie, monotonic())

    # -- write-behind: create and login ------------------------------------------

    def create(self, *, name: str, max_age: int, nbytes: int) -> tuple[str, Cookie]:
        """A new anonymous cookie (raw value, record); committed with the next batch."""
        value = secrets.token_urlsafe(nbytes)
        now = now_ns()
        cookie = Cookie(oid=random_uuid(), created=now, modified=now, max_age=max_age,
                        expires=now + max_age * NS_PER_SECOND, name=name, value_hash=_hash(value))
        self._stage(cookie)
        return value, cookie

    def set_auth(self, value_hash: bytes, authid: str | None, authrole: str | None, authmethod: str | None,
                 authextra: dict[str, Any] | None, authrealm: str | None) -> bool:
        """Record (or, with authid None, clear) who authenticated with the cookie. False if unknown/unchanged."""
        cookie = self.lookup(value_hash)
        if cookie is None:
            return False
        if (cookie.authid, cookie.authrole, cookie.authmethod, cookie.authextra, cookie.authrealm) == \
                (authid, authrole, authmethod, authextra, authrealm):
            return False
        self._stage(cookie.with_auth(authid=authid, authrole=authrole, authmethod=authmethod,
                                     authextra=authextra, authrealm=authrealm,
                                     modified=max(now_ns(), cookie.created)))
        return True

    def _stage(self, cookie: Cookie) -> None:
        pending = self._pending.cookies
        pending[cookie.value_hash] = cookie
        # Write-through: this process wrote it, so it may serve it from memory.
        if self._cache_ttl > 0 and self._cache_size > 0:
            self._remember(cookie.value_hash, cookie)
        if len(pending) >= self._max_pending:
            # Backpressure: the writer fell behind; commit here rather than grow without bound.
            self.flush()
        elif self._flush_call is None:
            if self._reactor is None:
                self.flush()
            else:
                self._flush_call = self._reactor.callLater(self._flush_delay, self._flush_in_thread)

    def _flush_in_thread(self) -> None:
        self._flush_call = None
        if not self._pending.cookies:
            return
        batch, self._pending = self._pending, _Batch()
        self._inflight = batch
        d = self._defer_to_thread(self._write, batch)

        def done(result: Any) -> Any:
            if self._inflight is batch:
                self._inflight = None
            if self._pending.cookies and self._flush_call is None:
                self._flush_call = self._reactor.callLater(self._flush_delay, self._flush_in_thread)
            return result

        d.addBoth(done)
        d.addErrback(self._write_failed, batch)

    def _write_failed(self, failure: Any, batch: _Batch) -> None:
        # Keep the cookies: they go out with the next batch (newer versions win).
        for value_hash, cookie in batch.cookies.items():
            self._pending.cookies.setdefault(value_hash, cookie)
        failure.printTraceback()

    def _write(self, batch: _Batch) -> int:
        """Commit a batch in one transaction (any thread)."""
        with self._write_lock:
            return self._write_locked(batch)

    def _write_locked(self, batch: _Batch) -> int:
        if batch.written or not batch.cookies:
            batch.written = True
            return 0
        table = self._schema.cookies
        with self.service.db.begin(write=True) as txn:
            for cookie in batch.cookies.values():
                table[txn, cookie.oid] = cookie
        batch.written = True
        return len(batch.cookies)

    def flush(self) -> int:
        """Commit everything pending now, on this thread; returns how many cookies were written."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        with self._write_lock:
            written = 0
            if self._inflight is not None:
                written += self._write_locked(self._inflight)
                # Committed now: reads must not serve it from memory any more (it may be deleted next).
                self._inflight = None
            batch, self._pending = self._pending, _Batch()
            written += self._write_locked(batch)
        return written

    # -- write-through: deletions ------------------------------------------------

    def delete(self, value: str) -> bool:
        """Delete one cookie (logout); True if it existed and was live."""
        value_hash = _hash(value)
        live = self.lookup(value_hash) is not None
        self.flush()
        self._cache.pop(value_hash, None)
        with self._write_lock:
            self.service.clear_auth(value)
        return live

    def revoke_authid(self, authid: str) -> list[bytes]:
        """Delete every cookie of authid; returns their value hashes."""
        self.flush()
        with self._write_lock:
            hashes = self.service.revoke_authid(authid)
        for value_hash in hashes:
            self._cache.pop(value_hash, None)
        return hashes

    def purge_expired(self) -> int:
        """Delete expired cookies (safe on any thread: pending cookies are never expired)."""
        with self._write_lock:
            return self.service.purge_expired()

    def purge_all(self) -> int:
        """Delete every stored cookie (Crossbar's purge_on_startup)."""
        self.flush()
        self._cache.clear()
        with self._write_lock:
            return self.service.purge_expired(now=2**62)  # every expiry is before this

    # -- live connections ----------------------------------------------------------

    def add_proto(self, value_hash: bytes, proto: Any) -> int:
        protos = self._protos.setdefault(value_hash, set())
        protos.add(proto)
        return len(protos)

    def drop_proto(self, value_hash: bytes, proto: Any) -> int:
        protos = self._protos.get(value_hash)
        if protos is None:
            return 0
        protos.discard(proto)
        if not protos:
            del self._protos[value_hash]
        return len(protos)

    def protos(self, value_hash: bytes) -> list[Any]:
        return list(self._protos.get(value_hash, ()))


_backends: dict[str, CookieBackend] = {}


def cookie_backend(path: str, service: CookieService, config: CookieConfig, reactor: Any,
                   defer_to_thread: Callable[..., Any]) -> CookieBackend:
    """The backend for the database at ``path`` (first caller's tuning wins)."""
    backend = _backends.get(path)
    if backend is None:
        backend = _backends[path] = CookieBackend(service, config, reactor, defer_to_thread)
    return backend


def all_backends() -> list[CookieBackend]:
    """Every cookie backend of this process (for revocation and shutdown)."""
    return list(_backends.values())
