"""A real Autobahn WAMP-over-WebSocket client for the router tests.

Runs on the Twisted reactor that conftest.py starts in a background thread;
tests call ``ReactorThread.call(fn, ...)``, which runs fn on the reactor and
blocks for the result of the Deferred it returns.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from autobahn.exception import Disconnected
from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory, WampWebSocketClientProtocol
from autobahn.wamp import auth
from autobahn.wamp.serializer import JsonObjectSerializer, JsonSerializer
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint


class Denied(Exception):
    """The router refused the session (ABORT) or dropped the connection before WELCOME."""

    def __init__(self, reason: str, message: str | None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class Login:
    session: "Client"
    details: Any
    set_cookie: str | None

    @property
    def cookie(self) -> str | None:
        """The "name=value" part of the Set-Cookie header, ready for a Cookie header."""
        return self.set_cookie.split(";", 1)[0] if self.set_cookie else None


class Client(ApplicationSession):
    def __init__(self, config: ComponentConfig, *, authmethods: list[str], authid: str | None,
                 ticket: str | None, secret: str | None) -> None:
        super().__init__(config)
        self._authmethods = authmethods
        self._authid = authid
        self._ticket = ticket
        self._secret = secret
        self.joined: defer.Deferred = defer.Deferred()
        self.left: defer.Deferred = defer.Deferred()
        self.leave_details: Any = None

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=self._authmethods, authid=self._authid)

    def onChallenge(self, challenge: Any) -> str:
        if challenge.method == "ticket":
            return self._ticket
        if challenge.method == "wampcra":
            key = self._secret.encode("utf8")
            if "salt" in challenge.extra:
                key = auth.derive_key(key, challenge.extra["salt"], challenge.extra["iterations"],
                                      challenge.extra["keylen"])
            return auth.compute_wcs(key, challenge.extra["challenge"].encode("utf8")).decode("ascii")
        raise Exception(f"unexpected challenge {challenge.method}")

    def onJoin(self, details: Any) -> None:
        self.joined.callback(details)

    def onLeave(self, details: Any) -> None:
        self.leave_details = details
        if not self.joined.called:
            self.joined.errback(Denied(details.reason, details.message))
        super().onLeave(details)

    def onDisconnect(self) -> None:
        if not self.joined.called:
            self.joined.errback(Denied("disconnected", "connection closed before joining"))
        if not self.left.called:
            self.left.callback(self.leave_details)


class _Protocol(WampWebSocketClientProtocol):
    def onConnect(self, response: Any) -> None:
        self.factory.set_cookie = response.headers.get("set-cookie")
        return super().onConnect(response)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        # A refused opening handshake never creates the WAMP session, so nothing else
        # would tell the waiting test that this login is over.
        joined = self.factory.session_joined
        if not joined.called:
            joined.errback(Denied("handshake", str(reason)))
        super().onClose(wasClean, code, reason)


@defer.inlineCallbacks
def login(port: int, *, realm: str = "realm1", authmethods: list[str], authid: str | None = None,
          ticket: str | None = None, secret: str | None = None, cookie: str | None = None, path: str = "",
          headers: dict[str, str] | None = None, serializers: list | None = None, bind: str | None = None):
    """Connect and join (sending extra HTTP headers, if any; from address ``bind``, if given);
    returns a Login, or fails with Denied."""
    session = Client(ComponentConfig(realm), authmethods=authmethods, authid=authid, ticket=ticket, secret=secret)
    headers = {**(headers or {}), **({"Cookie": cookie} if cookie else {})} or None
    factory = WampWebSocketClientFactory(lambda: session, url=f"ws://127.0.0.1:{port}/{path}", headers=headers,
                                         serializers=serializers)
    factory.protocol = _Protocol
    factory.set_cookie = None
    factory.session_joined = session.joined
    yield TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10,
                             bindAddress=None if bind is None else (bind, 0)).connect(factory)
    details = yield session.joined
    return Login(session, details, factory.set_cookie)


class _AsciiJson(JsonObjectSerializer):
    def serialize(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class AsciiJsonSerializer(JsonSerializer):
    """WAMP-JSON with every non-ASCII character escaped, so that strings UTF-8 cannot encode
    (lone surrogates, which JSON allows) reach the router as "\\ud800"."""

    def __init__(self) -> None:
        super().__init__()
        self._serializer = _AsciiJson()


@defer.inlineCallbacks
def leave(session: Client, reason: str = "wamp.close.normal"):
    """Leave and wait until the connection is gone."""
    if session.is_attached():
        try:
            session.leave(reason)
        except Disconnected:
            pass  # the router closed the connection first (a revocation closes its cookie's): gone already
    yield session.left
