"""The per-process state behind cfxstore cookie stores: cache, staged writes, connections.

All transports of a router worker that keep cookies in the same database share
one CookieBackend, so a cookie issued on one transport is seen at once on the
others and a revocation reaches every connection.

Durability policy:

* an anonymous cookie (issued on a connection, nobody logged in yet) is
  never stored: it lives in memory while its connection is open. A login on
  that connection binds it (see ``set_auth``: a login never binds a cookie
  value the client brought), so unauthenticated handshakes cost the database
  nothing and a planted value cannot become someone's login.
* recording a login is written behind (the records are made and written by
  CookieService, the cookies' one owner), through the database's one
  write-behind (writebehind.py, shared with the realm stores): kept in memory
  at once and committed in batches by a thread. A crash can lose the logins
  of the last few milliseconds (their users log in again); a clean stop
  loses nothing.
* a record that could never be stored (an authid too long for the authid
  index, an authextra the codec cannot encode) is refused when it is made:
  that login is not remembered on the cookie, is logged, and nothing else is
  held up.
* deleting (revocation, purge, and a logout on LMDB) is written through
  before returning, so a deleted cookie can never come back. A logout on
  PostgreSQL, and one whose deletion fails on LMDB (the database full, or
  conflicting past the retries), is refused at once in this process (and on
  LMDB by every process that can be told: cfxstore/cookies/announce.py
  ``refuse_now``) and deleted with the staged writes, whose commit tells the
  other nodes: the reactor never waits for a round trip to log out.

Reads see a cache first, then staged writes, then the database (one lookup:
one round trip on PostgreSQL). A deletion made by another process, e.g. the
CLI, is heard at once through cfxstore/router/cluster.py and its cookie
refused. On LMDB the cache keeps a cookie ``cache_ttl`` seconds (other
processes' changes are read again after it); on PostgreSQL, where every
deletion is pushed to every node, it keeps a cookie until it is deleted or
the listening connection is lost (then the whole cache is dropped, since
notifications may have been missed), so a node reads a live cookie once
while it lives there. While a PostgreSQL database is unreachable, reads and
deletions that need it raise StoreUnavailable at once (availability.py);
staged writes wait for it.

Threading: every method runs on the reactor thread except ``purge_expired``;
the write-behind serialises database writes with its thread. In a router a
handshake's cold lookup is first read in a bounded pool of threads
(``prefetch``), so the reactor never waits for the database to find a
cookie (a round trip on PostgreSQL, the disk on LMDB).
"""

from __future__ import annotations

import math
from time import monotonic
from typing import Any, Callable

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from cfxstore.cookies.announce import refuse_now
from cfxstore.cookies.entities import Cookie
from cfxstore.cookies.service import CookieService
from cfxstore.errors import Error
from cfxstore.node.config import CookieConfig
from cfxstore.plaindata import require_plain
from cfxstore.registry import Slot, registry
from cfxstore.router import metrics
from cfxstore.router.availability import StoreUnavailable
from cfxstore.router.verifypool import PoolBusy, VerifyPool
# OUTAGE_STAGED_MAX: a login that would stage one more write while the database is unreachable is refused
# (StoreUnavailable), so an outage cannot exhaust the node's memory; logged once per OUTAGE_LOG_EVERY.
from cfxstore.router.writebehind import OUTAGE_LOG_EVERY, OUTAGE_STAGED_MAX, WriteBehind
from cfxstore.timeutil import NS_PER_SECOND, now_ns

_hash = CookieService.hash_value
log = Logger()
STORE = "cookie store"  # how errors name it (availability.py)
#: Cookies deleted elsewhere or whose deletion is pending, refused by this process (oldest forgotten first).
REFUSED_KEPT = 100_000
#: How long (ns) the time this process heard that an authid's logins were ended is kept: longer than a
#: login takes from its WebSocket handshake to its cookie being bound (argon2 waits included).
ENDED_HEARD_KEPT = 300 * NS_PER_SECOND
#: A login with a cookie notes its device's last login when the noted one is older than this (ns).
LAST_LOGIN_EVERY = 60 * 1_000_000_000
#: A time every expiry is before: purging cookies expired by then deletes them all.
PURGE_ALL = 2**62
#: Threads reading cookies off the reactor (PostgreSQL), and lookups that may wait for one beyond them.
READ_THREADS = 4
READ_WAITING = 1_000
#: How connections closed for a deleted cookie are told why (a normal WebSocket close).
CLOSE_CODE = 1000
CLOSE_REASON = "cookie revoked"
#: Deleted cookies whose closed connections are remembered, so that every closer counts them.
CLOSED_KEPT = 1_024


class RefusedCookie(Error, ValueError):
    """A cookie record that the database could never store (named in the message)."""


class CookieBackend:
    """Cookies of one database as seen by one router worker process."""

    def __init__(self, service: CookieService, config: CookieConfig, reactor: Any = None,
                 defer_to_thread: Callable[..., Any] | None = None, writer: WriteBehind | None = None,
                 reads_off_reactor: bool | None = None) -> None:
        """``reads_off_reactor``: cold lookups are read in threads during the handshake (``prefetch``) and
        never on the calling thread (by default only on PostgreSQL; a router asks for it on every engine)."""
        self.service = service
        self._schema = service.schema
        self._table = service.schema.cookies
        if writer is None:
            writer = WriteBehind(service.db, delay=config.flush_ms / 1000.0, max_items=config.max_pending,
                                 reactor=reactor, defer_to_thread=defer_to_thread)
        self.writer = writer
        remote = writer.availability.remote
        # PostgreSQL pushes every deletion (cluster.py): a cookie stays cached until one says otherwise.
        self._cache_ttl = math.inf if remote else config.cache_ttl
        self._cache_size = config.cache_size
        # Cold lookups read off the reactor (a round trip on PostgreSQL, the disk on LMDB).
        if reads_off_reactor is None:
            reads_off_reactor = remote
        self._reads = VerifyPool(reactor, READ_THREADS, READ_WAITING, name="cfxstore-cookie-reads") \
            if reads_off_reactor and reactor is not None else None
        # value hash -> what a prefetch read (a cookie, None, or the error), until its handshake is done
        self._fetched: dict[bytes, Any] = {}
        # value hash -> (cookie, monotonic time it was read from the database)
        self._cache: dict[bytes, tuple[Cookie, float]] = {}
        # Value hashes refused whatever the database says: logged out here while the deletion could
        # not commit (it is retried with the staged writes), or heard of as deleted (cluster.py).
        self._refused: dict[bytes, None] = {}
        # Anonymous cookies handed out on open connections (never stored), by value hash.
        self._issued: dict[bytes, Cookie] = {}
        # authid -> when (this process's clock) it heard that authid's logins were ended, oldest first
        self._ended_heard: dict[str, int] = {}
        # value hash -> connections (Crossbar protocol objects) that presented or got the cookie
        # (a dict used as an ordered set: the latest connection last)
        self._protos: dict[bytes, dict[Any, None]] = {}
        # value hash of a deleted cookie -> ids of the connections closed for it, oldest cookie first
        self._closed: dict[bytes, set[int]] = {}
        self.outage_max = OUTAGE_STAGED_MAX
        self.outage_refused = 0  # logins refused for the bound, in this process's life
        self._outage_logged = -OUTAGE_LOG_EVERY

    # -- reads -----------------------------------------------------------------

    def lookup(self, value_hash: bytes) -> Cookie | None:
        """The live cookie with this value hash, or None (unknown or expired).

        A fresh cache entry comes first: staging a cookie also caches it, so
        the cache never holds an older version than the staged writes. Where
        reads are made off the reactor, the handshake reads a cookie whose
        entry is stale (``prefetch``), and a later lookup on its connection
        (a login, a logout) takes the entry as it was read then rather than
        read on the reactor.
        """
        if value_hash in self._refused:
            return None
        issued = self._issued.get(value_hash)
        if issued is not None:  # anonymous, in memory only: the database has never had it
            return issued if issued.expires > now_ns() else None
        cached = self._cache.get(value_hash)
        cookie: Cookie | None
        fresh = cached is not None and monotonic() - cached[1] < self._cache_ttl
        metrics.cookie_cache(fresh)
        if cached is not None and fresh:
            cookie = cached[0]
        else:
            cookie = self.writer.pending(value_hash)
            if cookie is None:
                if cached is not None and self._reads is not None and value_hash not in self._fetched:
                    cookie = cached[0]
                else:
                    cookie = self._read(value_hash)
        if cookie is None or cookie.expires <= now_ns():
            return None
        return cookie

    def _get(self, value_hash: bytes) -> Cookie | None:
        """The stored cookie (a single read: one round trip on PostgreSQL); StoreUnavailable while it is down."""
        def read() -> Cookie | None:
            with self.service.db.begin(single=True) as txn:
                return self._schema.cookies.get_by_index(txn, "idx_cookies_by_value", value_hash)

        return self.writer.availability.call(STORE, read)

    def _read(self, value_hash: bytes) -> Cookie | None:
        if value_hash in self._fetched:
            cookie = self._fetched[value_hash]
            if isinstance(cookie, Exception):
                raise cookie
        else:
            cookie = self._get(value_hash)
        if cookie is None:
            self._cache.pop(value_hash, None)
        elif (self._cache_ttl > 0 or self._reads is not None) and self._cache_size > 0:
            self._remember(value_hash, cookie)
        return cookie

    def prefetch(self, value_hash: bytes) -> Deferred | None:
        """Read a cookie the reactor would have to wait for, in the read threads; None if none is needed.

        What the Deferred's read found (the cookie, None or its error) answers
        this cookie's lookups until ``fetched`` is called.
        """
        cached = self._cache.get(value_hash)
        if (self._reads is None or value_hash in self._refused or value_hash in self._issued
                or (cached is not None and monotonic() - cached[1] < self._cache_ttl)
                or self.writer.pending(value_hash) is not None):
            return None

        def read() -> Any:
            try:
                return self._get(value_hash)
            except Exception as exc:  # handed to the lookups on the reactor, which raise it there
                return exc

        def done(result: Any) -> None:
            self._fetched[value_hash] = result

        try:
            d = self._reads.run(read)
        except PoolBusy:
            self.writer.availability.check(STORE)
            done(StoreUnavailable(STORE))
            return succeed(None)
        return d.addCallback(done)

    def fetched(self, value_hash: bytes) -> None:
        """The handshake that prefetched this cookie is done with it."""
        self._fetched.pop(value_hash, None)

    def forget_cached(self) -> None:
        """Drop every cached cookie (deletions may have been missed: they are read again)."""
        self._cache.clear()

    def _remember(self, value_hash: bytes, cookie: Cookie) -> None:
        cache = self._cache
        if len(cache) >= self._cache_size:
            # Drop the older half (dicts keep insertion order): cheap and rare.
            for key in list(cache)[: len(cache) // 2 + 1]:
                del cache[key]
        cache[value_hash] = (cookie, monotonic())

    # -- anonymous cookies and logins ---------------------------------------------

    def create(self, *, name: str, max_age: int, nbytes: int) -> tuple[str, Cookie]:
        """A new anonymous cookie (raw value, record), kept in memory only: it is stored when a
        login on its connection binds it, and forgotten when its last connection closes."""
        value, cookie = self.service.new(max_age=max_age, name=name, nbytes=nbytes)
        self._issued[cookie.value_hash] = cookie
        return value, cookie

    def set_auth(self, value_hash: bytes, authid: str | None, authrole: str | None, authmethod: str | None,
                 authextra: dict[str, Any] | None, authrealm: str | None,
                 context: dict[str, Any] | None = None) -> bool:
        """Record who logged in on the connection this cookie was issued to (staged, written behind).

        A login binds only a cookie this process issued and has not bound yet;
        a stored login is updated only by a login of the same authid on the
        same realm (its role or authextra may have changed). Anything else is
        refused (False), as is an unchanged login: a presented cookie value
        never becomes someone else's login. RefusedCookie (nothing staged) if
        the login could never be stored. ``context``: the device (peer, user_agent).
        """
        if authid is None:
            return False
        if self.writer.staged(value_hash) is None:
            self._admit()
        cookie = self._issued.pop(value_hash, None)
        issued = cookie is not None
        if cookie is not None and self._ended_heard.get(authid, -1) >= cookie.created:
            # Its connection opened before this process heard the logins were ended, so the credential may
            # have been checked before the change: not bound (it stays anonymous; a new login binds).
            self._issued[value_hash] = cookie
            return False
        if cookie is None:
            cookie = self.lookup(value_hash)
            if cookie is None or (cookie.authid, cookie.authrealm) != (authid, authrealm):
                return False
            if (cookie.authrole, cookie.authmethod, cookie.authextra) == (authrole, authmethod, authextra):
                return False
        elif cookie.expires <= now_ns():
            return False
        try:
            updated = self.service.login(cookie, authid=authid, authrole=authrole, authmethod=authmethod,
                                         authextra=authextra, authrealm=authrealm, context=context)
            require_plain("authextra", authextra)
            # Refuse here what the batch could never write: index keys too long for the engine.
            # The value encodes: every field is checked, authextra is plain data.
            self._table.check_put(updated.oid, updated, encode=False)
        except ValueError as exc:
            if issued:
                self._issued[value_hash] = cookie  # still this connection's, anonymous
            raise RefusedCookie(str(exc)) from None
        self._stage(updated, stored=not issued)
        return True

    def used(self, cookie: Cookie, context: dict[str, Any] | None) -> None:
        """Note a login with this cookie on its device (staged), at most once per ``LAST_LOGIN_EVERY``."""
        if cookie.last_login is not None and now_ns() - cookie.last_login < LAST_LOGIN_EVERY:
            return
        if self._full() and self.writer.staged(cookie.value_hash) is None:
            return  # the login itself costs no memory; only its note is left out
        try:
            updated = self.service.used(cookie, context)
        except ValueError as exc:
            log.warn("cfxstore: the device of a cookie login not noted: {error}", error=str(exc)[:300])
            return
        self._stage(updated, stored=True)

    def _full(self) -> bool:
        """True while the database is unreachable and the write-behind holds ``outage_max`` writes."""
        return not self.writer.availability.up and len(self.writer) >= self.outage_max

    def _admit(self) -> None:
        """StoreUnavailable (counted, logged once per interval) if a new staged write would pass the bound."""
        if not self._full():
            return
        self.outage_refused += 1
        metrics.outage_refusal()
        now = monotonic()
        if now - self._outage_logged >= OUTAGE_LOG_EVERY:
            self._outage_logged = now
            log.warn("cfxstore: database unreachable with {n} writes staged; refusing new logins until it answers "
                     "({refused} refused so far)", n=len(self.writer), refused=self.outage_refused)
        raise StoreUnavailable(STORE)

    def _stage(self, cookie: Cookie, stored: bool = False) -> None:
        """Stage a cookie: a new login, or (stored) a new version of a cookie read from the database,
        which is written only if the database still has it. A version staged over a new login
        that is not committed yet is a new login too."""
        value_hash = cookie.value_hash
        earlier = self.writer.staged(value_hash)
        new = not stored or (earlier is not None and earlier[0] == self.service.put)
        self.writer.stage(self.service.put if new else self.service.update, cookie, value_hash)
        # Write-through: this process wrote it, so it may serve it from memory.
        if self._cache_ttl > 0 and self._cache_size > 0:
            self._remember(cookie.value_hash, cookie)

    def flush(self) -> None:
        """Commit everything staged for this database now, on this thread."""
        self.writer.flush()

    # -- write-through: deletions ------------------------------------------------

    def delete(self, value: str) -> bool:
        """Delete one cookie (logout); True if it existed and was live (or cannot be told now).

        Never raises (Crossbar calls it from a session's onLeave), and the
        reactor never waits for the deletion: the cookie is refused at once
        here (and, on LMDB, by the other processes through the deletion file),
        and its deletion is staged after the writes staged before it and
        committed at once, off the reactor, whatever ``flush_ms`` says. A
        database that does not take it keeps it staged; the commit tells the
        other processes and nodes.
        """
        value_hash = _hash(value)
        live = self._live_here(value_hash)
        if value_hash in self._refused:
            return live  # its deletion is staged already: a repeated logout adds nothing
        self.refuse(value_hash)
        if not self.writer.availability.remote:  # the other processes on this machine read the deletion file
            try:
                refuse_now(self.service.db, [value_hash])
            except Exception:
                log.failure("cfxstore: telling the other processes to refuse a logged-out cookie failed")
        self.writer.append(self.service.delete_hashes, value_hash)
        self.writer.commit_soon()
        return live

    def _live_here(self, value_hash: bytes) -> bool:
        """Whether the cookie is live, as far as this process tells without a round trip (True if it cannot)."""
        if self._reads is not None and not (value_hash in self._cache or value_hash in self._refused
                                            or value_hash in self._issued
                                            or self.writer.pending(value_hash) is not None):
            return True
        try:
            return self.lookup(value_hash) is not None
        except Exception:
            return True

    def refuse(self, value_hash: bytes) -> None:
        """Refuse this cookie from now on in this process (it is deleted, or its deletion is pending)."""
        self._cache.pop(value_hash, None)
        self.writer.discard(value_hash)  # a staged login on it must not bring it back
        refused = self._refused
        refused[value_hash] = None
        if len(refused) > REFUSED_KEPT:
            del refused[next(iter(refused))]

    def logins_ended(self, authid: str) -> list[bytes]:
        """authid's logins were ended (on any node): refuse the cookies of it this process holds in memory
        (cached, or staged and not committed) and delete them with the staged writes (one this node committed
        after the change, stamped by a clock running ahead, goes too); their value hashes, to close."""
        now = now_ns()
        heard = self._ended_heard
        heard.pop(authid, None)
        heard[authid] = now
        while heard and next(iter(heard.values())) < now - ENDED_HEARD_KEPT:
            del heard[next(iter(heard))]
        held = {h for h, (cookie, _) in self._cache.items() if cookie.authid == authid}
        held.update(h for h, cookie in self.writer.staged_keyed()
                    if isinstance(h, bytes) and getattr(cookie, "authid", None) == authid)
        for value_hash in held:
            self.refuse(value_hash)
            self.writer.append(self.service.delete_hashes, value_hash)
        return list(held)

    def revoke_authid(self, authid: str) -> list[bytes]:
        """Delete every cookie of authid now, on this thread; returns their value hashes. A router
        revokes off the reactor instead (revoke.py: the staged writes, then ``delete_authid``)."""
        hashes = self.writer.availability.call(
            STORE, lambda: self.writer.run(lambda: self.service.revoke_authid(authid)))
        self.revoked(hashes)
        return hashes

    def delete_authid(self, authid: str) -> list[bytes]:
        """Delete every cookie of authid, on any thread, after the batch being written; their value hashes.
        Call it once the writes staged before the revocation are committed, and ``revoked`` with the result."""
        with self.writer.lock:
            return self.service.revoke_authid(authid)

    def revoked(self, value_hashes: list[bytes]) -> None:
        """Forget the cached copies of deleted cookies (reactor thread)."""
        for value_hash in value_hashes:
            self._cache.pop(value_hash, None)

    def purge_expired(self) -> int:
        """Delete expired cookies (safe on any thread: staged cookies are never expired)."""
        with self.writer.lock:
            return self.service.purge_expired()

    def purge_all(self) -> int:
        """Delete every stored cookie (Crossbar's purge_on_startup)."""
        self._cache.clear()
        return self.writer.run(lambda: self.service.purge_expired(now=PURGE_ALL))

    # -- live connections ----------------------------------------------------------

    def add_proto(self, value_hash: bytes, proto: Any) -> int:
        protos = self._protos.setdefault(value_hash, {})
        protos[proto] = None
        return len(protos)

    def drop_proto(self, value_hash: bytes, proto: Any) -> int:
        protos = self._protos.get(value_hash)
        if protos is None:
            self._issued.pop(value_hash, None)
            return 0
        protos.pop(proto, None)
        if not protos:
            del self._protos[value_hash]
            self._issued.pop(value_hash, None)  # its connection is gone without a login: nothing to keep
        return len(protos)

    def protos(self, value_hash: bytes) -> list[Any]:
        return list(self._protos.get(value_hash, ()))

    def close_connections(self, value_hash: bytes) -> int:
        """Close the connections that used a deleted cookie (reactor thread); how many were closed for it.
        Those an earlier call closed count too: a revocation's own announcement may close them first,
        and a connection is forgotten once its close completes."""
        closed = self._closed.pop(value_hash, set())
        for proto in self.protos(value_hash):
            proto.sendClose(CLOSE_CODE, CLOSE_REASON)
            closed.add(id(proto))
        self._closed[value_hash] = closed
        while len(self._closed) > CLOSED_KEPT:
            del self._closed[next(iter(self._closed))]
        return len(closed)


BACKENDS: Slot[CookieBackend] = Slot("cookie backend")


def cookie_backend(path: str, service: CookieService, config: CookieConfig, writer: WriteBehind,
                   reactor: Any = None) -> CookieBackend:
    """The backend for the database at ``path`` (first caller's cache settings win)."""
    return registry.get(BACKENDS, path, lambda: CookieBackend(service, config, reactor=reactor, writer=writer,
                                                              reads_off_reactor=reactor is not None))


def all_backends() -> list[CookieBackend]:
    """Every cookie backend of this process (for revocation and shutdown)."""
    return registry.all(BACKENDS)
