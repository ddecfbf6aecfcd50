"""CookieService: create, look up, authenticate, revoke and purge cookies.

The raw cookie value exists only in the caller's hands: ``create`` returns it
once, and every other call hashes it before touching the database. Expiry is
enforced on every read, so an expired cookie authenticates nobody even before
``purge_expired`` removes it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

import orm
from orm.keys import random_uuid

from cfxstore.audit.entities import AuditEvent
from cfxstore.audit.service import AuditLog
from cfxstore.errors import InvalidArgument, WrongType
from cfxstore.service import Service, attached
from cfxstore.timeutil import NS_PER_SECOND, now_ns
from cfxstore.transport import scrub_transport

from .announce import announce_deleted, announce_logins_ended
from .entities import MAX_PEER_CHARS, MAX_USER_AGENT_CHARS, Cookie
from .schema import CookieStore

DEFAULT_MAX_AGE = 7 * 24 * 3600
MIN_VALUE_BYTES = 16  # 128 bits of randomness at the least
_CONTEXT_FIELDS = frozenset({"node", "worker", "session", "transport", "peer", "user_agent"})
# What a client says of itself is kept, cut to the field's size, rather than refusing its login.
_CUT = {"peer": MAX_PEER_CHARS, "user_agent": MAX_USER_AGENT_CHARS}
_BY_VALUE = "idx_cookies_by_value"
_BY_AUTHID = "idx_cookies_by_authid"
_NS_MAX = 2**63 - 1  # timestamps are int64 nanoseconds


def guessable(value: str) -> bool:
    """A value too short to carry 128 random bits: stock Crossbar's (6 to 64 base64 characters, 6 bits each)
    can be; the values cfxstore issues never are."""
    return len(value) * 6 < MIN_VALUE_BYTES * 8


def _seconds(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"{name}: expected a positive int (seconds), got {value!r}")
    return value


def _context(context: dict[str, Any] | None) -> dict[str, Any]:
    """The cookie fields a context dict sets; unknown keys are refused, and the
    transport details lose their credentials (see cfxstore.transport)."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise InvalidArgument(f"context: expected a dict or None, got {type(context).__name__}")
    unknown = context.keys() - _CONTEXT_FIELDS
    if unknown:
        raise InvalidArgument(f"context: unknown keys {sorted(unknown)}; allowed: {sorted(_CONTEXT_FIELDS)}")
    fields = dict(context)
    if fields.get("transport") is not None:
        fields["transport"] = scrub_transport(fields["transport"])
    for name, size in _CUT.items():
        if isinstance(fields.get(name), str):
            fields[name] = fields[name][:size]
    return fields


class CookieService(Service):
    """Persistent cookie authentication on an orm.Database."""

    #: On PostgreSQL concurrent cookie writers (other router nodes, the CLI) conflict often: their
    #: index entries share pages. Each conflict means another writer got through.
    write_retries = 50

    def __init__(self, db: orm.Database, *, default_max_age: int = DEFAULT_MAX_AGE) -> None:
        self.db = db
        self.default_max_age = _seconds("default_max_age", default_max_age)
        self.schema = attached(CookieStore, db)
        self._cookies = self.schema.cookies
        self._audit: AuditLog | None = None

    @staticmethod
    def hash_value(value: str) -> bytes:
        """SHA-256 of a raw cookie value: the only form of it that is stored."""
        if not isinstance(value, str):
            raise WrongType(f"cookie value must be str, got {type(value).__name__}")
        return hashlib.sha256(value.encode("utf-8")).digest()

    # -- create and read -----------------------------------------------------

    def create(self, *, max_age: int | None = None, name: str = "cbtid", nbytes: int = 24,
               context: dict[str, Any] | None = None) -> tuple[str, Cookie]:
        """A new anonymous cookie, stored now: returns (raw value, stored Cookie).

        The raw value is urlsafe base64 of max(nbytes, 16) random bytes and
        is not retrievable later.
        """
        value, cookie = self.new(max_age=max_age, name=name, nbytes=nbytes, context=context)
        self.transact(lambda txn: self.put(txn, [cookie]))
        return value, cookie

    def new(self, *, max_age: int | None = None, name: str = "cbtid", nbytes: int = 24,
            context: dict[str, Any] | None = None) -> tuple[str, Cookie]:
        """A new anonymous cookie, not stored yet (``put`` stores it): returns (raw value, Cookie)."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise InvalidArgument(f"nbytes: expected an int, got {type(nbytes).__name__}")
        max_age = self.default_max_age if max_age is None else _seconds("max_age", max_age)
        fields = _context(context)
        value = secrets.token_urlsafe(max(nbytes, MIN_VALUE_BYTES))
        now = now_ns()
        cookie = Cookie(oid=random_uuid(), created=now, modified=now, max_age=max_age,
                        expires=now + max_age * NS_PER_SECOND,
                        name=name, value_hash=self.hash_value(value), **fields)
        return value, cookie

    @staticmethod
    def login(cookie: Cookie, *, authid: str | None, authrole: str | None, authmethod: str | None,
              authextra: dict[str, Any] | None, authrealm: str | None,
              context: dict[str, Any] | None = None) -> Cookie:
        """cookie as it is after this login (authid None: after a logout), not stored yet.

        The expiry stays as set at creation: authenticating does not extend it.
        """
        now = max(now_ns(), cookie.created)
        return cookie.with_auth(authid=authid, authrole=authrole, authmethod=authmethod, authextra=authextra,
                                authrealm=authrealm, modified=now, last_login=now, **_context(context))

    @staticmethod
    def used(cookie: Cookie, context: dict[str, Any] | None = None) -> Cookie:
        """cookie as it is after a login with it (its device's last login and address), not stored yet."""
        now = max(now_ns(), cookie.created)
        return cookie.with_auth(modified=now, last_login=now, **_context(context))

    def put(self, txn: orm.Transaction, cookies: list[Cookie]) -> None:
        """Store new cookies made by ``new`` / ``login`` (not stored before) in the write transaction txn.

        A login is left out if its authid's logins were ended (``end_logins``, on
        any node) at or after it: a login staged before its principal changed never
        outlives the change. No reads: the check and the writes go to the database
        together (one round trip for a batch on PostgreSQL), and a concurrent
        ``end_logins`` conflicts with them. (A node whose clock runs ahead may stamp
        such a login after the change: it hears of the change and deletes the
        cookies of that authid it holds, cookiebackend.py ``logins_ended``.)
        """
        self._cookies.write_known(txn, ((c.oid, None, c) for c in cookies), guard=self._ended_guard)

    def _ended_guard(self, cookie: Cookie) -> tuple[orm.Map, str, int] | None:
        if cookie.authid is None:
            return None
        return self.schema.logins_ended, cookie.authid, cookie.last_login or cookie.modified

    def update(self, txn: orm.Transaction, cookies: list[Cookie]) -> None:
        """Store new versions of stored cookies in txn, leaving out those deleted meanwhile (a change of
        their principal in another process): a deleted cookie never comes back. A new version keeps
        the indexed fields (value hash, authid, expiry) of the stored one; no reads, as with ``put``."""
        self._cookies.write_known(txn, ((c.oid, c, c) for c in cookies), existing=True)

    def lookup(self, value: str) -> Cookie | None:
        """The live cookie with this raw value; None if unknown or expired."""
        h = self.hash_value(value)
        with self.db.begin() as txn:
            cookie = self._cookies.get_by_index(txn, _BY_VALUE, h)
        if cookie is None or cookie.expires <= now_ns():
            return None
        return cookie

    def exists(self, value: str) -> bool:
        return self.lookup(value) is not None

    def cookies_by_authid(self, authid: str) -> list[Cookie]:
        """The live cookies of authid, oldest first."""
        now = now_ns()
        with self.db.begin() as txn:
            found = [self._cookies[txn, oid] for oid in self._cookies.keys_by_index(txn, _BY_AUTHID, authid)]
        return sorted((c for c in found if c is not None and c.expires > now), key=lambda c: c.created)

    # -- change --------------------------------------------------------------

    def set_auth(self, value: str, authid: str, authrole: str, authmethod: str,
                 authextra: dict[str, Any] | None, authrealm: str,
                 context: dict[str, Any] | None = None) -> bool:
        """Record who authenticated with this cookie; False if it is unknown or expired.

        The expiry stays as set at creation: authenticating does not extend it.
        """
        if authid is None:
            raise InvalidArgument("set_auth: authid must not be None")
        h = self.hash_value(value)
        _context(context)  # refused before the transaction

        def write(txn: orm.Transaction) -> bool:
            cookie = self._cookies.get_by_index(txn, _BY_VALUE, h)
            if cookie is None or cookie.expires <= now_ns():
                return False
            self._cookies[txn, cookie.oid] = self.login(cookie, authid=authid, authrole=authrole,
                                                        authmethod=authmethod, authextra=authextra,
                                                        authrealm=authrealm, context=context)
            return True

        return self.transact(write)

    def clear_auth(self, value: str) -> bool:
        """Delete the cookie (logout). False if it was unknown or already expired."""
        h = self.hash_value(value)

        found = self.transact(lambda txn: self.delete_hashes(txn, [h]))
        return bool(found) and found[0].expires > now_ns()

    def delete_hashes(self, txn: orm.Transaction, value_hashes: list[bytes]) -> list[Cookie]:
        """Delete the cookies with these value hashes in txn, telling the other nodes; returns those found.
        One read finds them all, and the deletions need no answer: a batch of logouts costs one round trip
        of its own on PostgreSQL, however many it holds."""
        found = self._cookies.get_many_by_index(txn, _BY_VALUE, value_hashes)
        self._cookies.write_known(txn, ((cookie.oid, cookie, None) for cookie in found))
        for cookie in found:
            self._record(txn, cookie, "logout", "logout")
        announce_deleted(self.db, txn, [c.value_hash for c in found])
        return found

    def revoke_authid(self, authid: str) -> list[bytes]:
        """Delete every cookie of authid (expired ones too); returns their value hashes."""
        return self.transact(lambda txn: self.end_logins(txn, authid, reason="revoked"))

    def end_logins(self, txn: orm.Transaction, authid: str, realm: str | None = None,
                   reason: str = "principal changed") -> list[bytes]:
        """Delete in txn the cookies authid logged in with (on realm only, if given), telling the
        other nodes; returns their value hashes. The owner of principals calls it whenever a
        principal changes, so no cookie outlives the principal it names."""
        # Logins of authid not committed yet (staged on any node) are not stored after this (see put).
        self.schema.logins_ended[txn, authid] = now_ns()
        announce_logins_ended(self.db, txn, authid)
        hashes = []
        for oid in list(self._cookies.keys_by_index(txn, _BY_AUTHID, authid)):
            cookie = self._cookies[txn, oid]
            if cookie is not None and (realm is None or cookie.authrealm == realm):
                hashes.append(cookie.value_hash)
                self._cookies.delete(txn, oid)
                self._record(txn, cookie, "logins ended", reason)
        announce_deleted(self.db, txn, hashes)
        return hashes

    def revoke(self, oid: Any) -> Cookie | None:
        """Delete one cookie by its id (one device's login), telling every node; the cookie, or None."""
        if not isinstance(oid, uuid.UUID):
            raise WrongType(f"cookie id: expected a UUID, got {type(oid).__name__}")
        table = self._cookies

        def write(txn: orm.Transaction) -> Cookie | None:
            cookie = table[txn, oid]
            if cookie is not None:
                table.delete(txn, oid)
                self._record(txn, cookie, "device revoked", "revoked")
                announce_deleted(self.db, txn, [cookie.value_hash])
            return cookie

        return self.transact(write)

    def _record(self, txn: orm.Transaction, cookie: Cookie, action: str, reason: str) -> None:
        """An audit event for a login ended in txn (a logout, or a revocation), naming the cookie by its id only."""
        if self._audit is None:
            self._audit = AuditLog(self.db)  # attached at the first deletion: read-only users never need it
        kind = "logout" if action == "logout" else "revocation"
        self._audit.record(txn, AuditEvent(kind=kind, action=action, realm=cookie.authrealm, authid=cookie.authid,
                                           method=cookie.authmethod, reason=reason,
                                           detail={"cookie": str(cookie.oid)}))

    def purge_expired(self, now: int | None = None) -> int:
        """Delete every cookie whose expiry is at or before now (int ns); returns how many."""
        now = now_ns() if now is None else now
        if isinstance(now, bool) or not isinstance(now, int):
            raise WrongType(f"now: expected int nanoseconds, got {type(now).__name__}")
        by_expiry = self.schema.idx_cookies_by_expiry
        # Inclusive upper bound; at the last representable instant, everything.
        until = None if now >= _NS_MAX else now + 1

        def write(txn: orm.Transaction) -> int:
            # Collected first: deleting a cookie edits the index being read.
            doomed = list(by_expiry.select(txn, to_key=until, return_keys=False))
            for oid in doomed:
                self._cookies.delete(txn, oid)
            return len(doomed)

        return self.transact(write)
