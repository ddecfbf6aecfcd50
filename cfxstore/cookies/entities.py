"""The stored cookie record.

A cookie is stored under a random UUID and found by the SHA-256 of its raw
value; the raw value itself never reaches the database, so a copied database
file does not hand out live sessions.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from orm.keys import uuid_from_bytes

from cfxstore.entity import Entity
from cfxstore.errors import InvalidArgument
from cfxstore.fields import check_field, field, time, uint64

VALUE_HASH_SIZE = 32
MAX_PEER_CHARS = 200
MAX_USER_AGENT_CHARS = 500
# RFC 6265 cookie-name = token (RFC 7230 tchar).
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _cookie_name(value: str) -> str | None:
    """an RFC 6265 cookie name (token)"""
    return None if _COOKIE_NAME.fullmatch(value) else f"{value!r} is not a valid cookie name (RFC 6265 token)"


@dataclasses.dataclass(kw_only=True)
class Cookie(Entity):
    """A persistent authentication cookie. Times are int ns UTC; max_age is seconds."""

    oid: uuid.UUID
    created: int = time()
    modified: int = time()
    max_age: int = field(min=1)
    expires: int = time()
    name: str = field(rule=_cookie_name)
    value_hash: bytes = field(size=VALUE_HASH_SIZE, secret=True)
    authid: str | None = None
    authrole: str | None = None
    authmethod: str | None = None
    authrealm: str | None = None
    authextra: dict[str, Any] | None = None
    node: str | None = None
    worker: str | None = None
    session: int | None = uint64(default=None)
    transport: dict[str, Any] | None = None
    # The device, as of its last login (listed per authid; added later: older records lack them).
    last_login: int | None = time(default=None)
    peer: str | None = field(default=None, max_chars=MAX_PEER_CHARS, empty=True)
    user_agent: str | None = field(default=None, max_chars=MAX_USER_AGENT_CHARS, empty=True)

    def validate(self) -> None:
        super().validate()
        if self.expires < self.created:
            raise InvalidArgument(f"Cookie.expires: {self.expires} is before created {self.created}")

    def with_auth(self, *, modified: int, **changes: Any) -> Cookie:
        """A copy with new authentication (and authenticated-on context) fields.

        Only the fields that change are validated: the rest were validated when
        this record was built. ``changes`` may name authid, authrole, authmethod,
        authrealm, authextra, node, worker, session, transport, last_login,
        peer and user_agent.
        """
        unknown = changes.keys() - _CHANGEABLE
        if unknown:
            raise InvalidArgument(f"Cookie.with_auth: cannot change {sorted(unknown)}; allowed: {sorted(_CHANGEABLE)}")
        for name, value in changes.items():
            check_field(Cookie, name, value)
        check_field(Cookie, "modified", modified)
        copy = _new_object(Cookie)
        copy.__dict__ = {**self.__dict__, **changes, "modified": modified}
        return copy

    @classmethod
    def load(cls, data: dict[str, Any]) -> Cookie:
        """Read a record back from the store (the table's unmarshal).

        Every record this code stores was validated on construction, so one
        with only known keys (and all required ones) is rebuilt without
        validating again: lookup is the hot path and validation is most of
        its cost. The decoded dict becomes the instance's state; unset
        optional fields and ``_unknown`` fall back to their class defaults.
        Anything else (unknown or missing keys) goes through parse().
        """
        if data.__class__ is not dict:
            return cls.parse(data)
        oid = data.get("oid")
        keys = data.keys()
        if oid.__class__ is bytes and len(oid) == 16 and keys <= _STORED_KEYS and keys >= _REQUIRED_KEYS:
            data["oid"] = uuid_from_bytes(oid)
            cookie = _new_object(cls)
            cookie.__dict__ = data
            return cookie
        return cls.parse(data)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Cookie:
        oid = data.get("oid") if isinstance(data, dict) else None
        if isinstance(oid, bytes) and len(oid) == 16:
            data = {**data, "oid": uuid_from_bytes(oid)}
        return super().parse(data)

    def marshal(self) -> dict[str, Any]:
        """The stored form: oid as its 16 bytes (CBOR's UUID tag costs a microsecond
        to read) and unset optional fields left out (an anonymous cookie decodes in
        half the time). Read from the instance state, which holds exactly the
        fields (required ones are never None) plus ``_unknown``."""
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        data.pop("_unknown", None)
        if self._unknown:
            data = {**self._unknown, **data}
        data["oid"] = self.oid.bytes
        return data

    def is_expired(self, now: int) -> bool:
        """True once ``now`` (int ns) has reached ``expires``."""
        return self.expires <= now

    @property
    def authenticated(self) -> bool:
        return self.authid is not None


# The fields a login (with_auth) may change.
_CHANGEABLE = frozenset({"authid", "authrole", "authmethod", "authrealm", "authextra", "node", "worker", "session",
                         "transport", "last_login", "peer", "user_agent"})
_STORED_KEYS = frozenset(Cookie._fields())
# Optional fields (default None): left out of the stored form while unset.
_OPTIONAL_NONE = {f.name: None for f in dataclasses.fields(Cookie) if f.default is None}
_REQUIRED_KEYS = _STORED_KEYS - _OPTIONAL_NONE.keys()
_new_object = object.__new__
