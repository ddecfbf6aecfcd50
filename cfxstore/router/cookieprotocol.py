"""Crossbar's WAMP-over-WebSocket server protocol, refusing cookie logins clearly while the store is down.

Crossbar reads the cookie during the WebSocket handshake and, when the
cookie store cannot answer, would go on as if the cookie were not logged in:
a client offering only "cookie" would be told that none of its authmethods
can be used. Here the connection remembers that its cookie could not be
read (cookiestore.py) and answers a HELLO offering "cookie" with
``ABORT(cfxstore.error.store_unavailable, "the cookie store is unavailable;
retry later")``; every other HELLO goes to Crossbar unchanged.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp import message
from crossbar.router.protocol import WampWebSocketServerProtocol

from cfxstore.router.availability import STORE_UNAVAILABLE


class CookieAwareServerProtocol(WampWebSocketServerProtocol):
    """A WAMP WebSocket connection of a transport with a cfxstore cookie store."""

    _unavailable: str | None = None

    def onConnect(self, request: Any) -> Any:
        result = super().onConnect(request)
        unavailable = getattr(self.factory._cookiestore, "unavailable", None)
        if unavailable is not None and self._cbtid:
            self._unavailable = unavailable(self._cbtid)
        return result

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._unavailable is not None:
            why, self._unavailable = self._unavailable, None  # only the first message (HELLO) is looked at
            try:
                messages = self._serializer.unserialize(payload, isBinary)
            except Exception:
                messages = []  # Crossbar reports it below
            if any(isinstance(m, message.Hello) and "cookie" in (m.authmethods or ()) for m in messages):
                self.send(message.Abort(STORE_UNAVAILABLE, why))
                self.sendClose(1000, "store unavailable")
                return
        super().onMessage(payload, isBinary)
