"""Crossbar's cookie store interface, backed by cfxstore.

Crossbar calls these methods by name (see crossbar/router/cookiestore.py for
the built-in stores): ``parse`` and ``exists``/``create``/``addProto``/
``getAuth`` during the WebSocket handshake, ``setAuth`` after a login,
``delAuth`` + ``getProtos`` on ``wamp.close.logout`` and ``dropProto`` when a
connection closes. The work is done by the shared CookieBackend; this class
holds one transport's cookie settings.

While the database is unreachable a handshake's lookup cannot tell whether
the cookie is logged in: the cookie is kept (no new one replaces it), no
login is taken from it, and ``unavailable()`` tells the connection
(cookieprotocol.py) to refuse a cookie login with a clear reason.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from twisted.logger import Logger

from cfxstore.cookies.service import CookieService
from cfxstore.node.config import CookieConfig
from cfxstore.router.availability import StoreUnavailable
from cfxstore.router.cookiebackend import CookieBackend, RefusedCookie
from cfxstore.router.cookieguesses import CookieGuesses

# cfxstore issues urlsafe base64 values; stock Crossbar issued standard base64 ones
# (autobahn's newid(), 6 to 64 characters), which stay valid after an upgrade. Lookups go
# by hash, so the wider alphabet admits nothing a lookup could be fooled by.
_VALUE = re.compile(r"^[A-Za-z0-9_\-+/]{6,128}$")
_NO_AUTH = (None, None, None, None, None)
UNAVAILABLE = object()
_hash = CookieService.hash_value
log = Logger()


def parse_cookie_header(header: Any, name: str) -> str | None:
    """The first well-formed value of cookie ``name`` in a Cookie header, else None. Never raises."""
    if not isinstance(header, str):
        return None
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip().strip('"')
            if _VALUE.match(value):
                return value
    return None


class CfxCookieStore:
    """One transport's view of the persistent cookies (Crossbar's duck-typed interface)."""

    def __init__(self, backend: CookieBackend, config: CookieConfig) -> None:
        self._backend = backend
        self._config = config
        # Crossbar's protocol reads these for its log lines.
        self._cookie_id_field = config.name
        self._cookie_id_field_length = config.length
        self._cookie_max_age = config.max_age
        # A handshake asks about the same value several times in a row: hash it once.
        self._last_value: str | None = None
        self._last_hash = b""
        # (cookie value, message) of the latest lookup the unreachable store could not answer.
        self._failed: tuple[str, str] | None = None
        self.guesses = CookieGuesses(config)

    def _hash(self, value: str) -> bytes:
        if value != self._last_value:
            self._last_hash = _hash(value)
            self._last_value = value
        return self._last_hash

    @property
    def backend(self) -> CookieBackend:
        return self._backend

    def parse(self, headers: Mapping[str, Any]) -> str | None:
        """The cookie value from the HTTP request headers; malformed headers give None."""
        try:
            header = headers.get("cookie")
        except Exception:
            return None
        return parse_cookie_header(header, self._config.name)

    def _lookup(self, cbtid: str) -> Any:
        """The live cookie, None, or UNAVAILABLE (remembered for unavailable())."""
        try:
            cookie = self._backend.lookup(self._hash(cbtid))
        except StoreUnavailable as exc:
            self._failed = (cbtid, exc.text)
            return UNAVAILABLE
        if self._failed is not None and self._failed[0] == cbtid:
            self._failed = None
        return cookie

    def prefetch(self, cbtid: str) -> Any:
        """A Deferred reading this cookie off the reactor when a lookup would wait for the database, else None."""
        return self._backend.prefetch(self._hash(cbtid))

    def fetched(self, cbtid: str) -> None:
        """The handshake that prefetched cbtid is done with it."""
        self._backend.fetched(self._hash(cbtid))

    def unavailable(self, cbtid: str) -> str | None:
        """Why the latest lookup of cbtid could not be answered (the store is unreachable), else None."""
        return self._failed[1] if self._failed is not None and self._failed[0] == cbtid else None

    def unknown(self, cbtid: str) -> bool:
        """True if no cookie has this value (False while the store cannot tell)."""
        return self._lookup(cbtid) is None

    def exists(self, cbtid: str) -> bool:
        """Whether the client keeps the cookie it presented: only a logged-in one. An anonymous or
        unknown value gets a fresh cookie, so a login never binds a value the client brought."""
        cookie = self._lookup(cbtid)
        # Unknown while the store is unreachable: keep the client's cookie rather than replace it.
        return cookie is UNAVAILABLE or (cookie is not None and cookie.authid is not None)

    def create(self) -> tuple[str, str]:
        """A new cookie: (value, Set-Cookie header value without the optional flags)."""
        config = self._config
        value, _ = self._backend.create(name=config.name, max_age=config.max_age, nbytes=config.nbytes)
        return value, f"{config.name}={value};max-age={config.max_age}"

    def getAuth(self, cbtid: str) -> tuple[Any, Any, Any, Any, Any]:  # noqa: N802 (Crossbar's name)
        """(authid, authrole, authmethod, authrealm, authextra) of a logged-in cookie, else five Nones.

        The authmethod reported is "cookie": the session was authenticated by
        the cookie, not by the method that originally set it.
        """
        cookie = self._lookup(cbtid)
        if cookie is None or cookie is UNAVAILABLE or cookie.authid is None:
            return _NO_AUTH
        self._backend.used(cookie, self._device(self._hash(cbtid)))
        return cookie.authid, cookie.authrole, "cookie", cookie.authrealm, cookie.authextra

    def setAuth(self, cbtid: str, authid: str | None, authrole: str | None,  # noqa: N802
                authmethod: str | None, authextra: dict[str, Any] | None, authrealm: str | None) -> bool:
        """Record a login on the cookie (Crossbar passes authextra before authrealm).

        A login that could never be stored is not remembered on the cookie
        (the session itself stands; the next connection logs in again).
        """
        if authextra is not None and not isinstance(authextra, dict):
            authextra = None
        value_hash = self._hash(cbtid)
        try:
            return self._backend.set_auth(value_hash, authid, authrole, authmethod, authextra, authrealm,
                                          self._device(value_hash))
        except StoreUnavailable:
            return False  # an outage's bound: counted and logged once per interval by the backend
        except RefusedCookie as exc:
            log.warn("cfxstore: login of {authid} not remembered on its cookie: {error}",
                     authid=repr(authid)[:80], error=str(exc)[:300])
            return False

    def _device(self, value_hash: bytes) -> dict[str, Any] | None:
        """The peer address and user agent of the latest connection with this cookie."""
        protos = self._backend.protos(value_hash)
        if not protos:
            return None
        proto = protos[-1]
        headers = getattr(proto, "http_headers", None) or {}
        peer, agent = getattr(proto, "peer", None), headers.get("user-agent")
        return {"peer": peer if isinstance(peer, str) else None,
                "user_agent": agent if isinstance(agent, str) else None}

    def delAuth(self, cbtid: str) -> bool:  # noqa: N802
        """Delete the cookie (logout)."""
        return self._backend.delete(cbtid)

    def addProto(self, cbtid: str, proto: Any) -> int:  # noqa: N802
        return self._backend.add_proto(self._hash(cbtid), proto)

    def dropProto(self, cbtid: str, proto: Any) -> int:  # noqa: N802
        return self._backend.drop_proto(self._hash(cbtid), proto)

    def getProtos(self, cbtid: str) -> list[Any]:  # noqa: N802
        # Unlike Crossbar's stores this does not require the cookie to still
        # exist: on logout Crossbar deletes it first and then asks for the
        # connections to close.
        return self._backend.protos(self._hash(cbtid))
