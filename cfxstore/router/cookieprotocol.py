"""Crossbar's WAMP-over-WebSocket server protocol, with four cookie additions.

Reading the cookie off the reactor: on PostgreSQL a cookie that is not in
memory is read in the cookie store's threads before Crossbar's handshake
code runs (onConnect returns a Deferred, which autobahn waits for), so
every other connection of the worker goes on meanwhile.

Logout by the router: Crossbar deletes a cookie when its client leaves with
``wamp.close.logout``, but not when the router ends the session with that
reason (``wamp.session.kill``, ``kill_by_authid``, ``kill_by_authrole``): it
sends the GOODBYE and waits for the client's reply, whose reason is the
client's. Here the GOODBYE the router sends with ``wamp.close.logout``
deletes the connection's cookie like a logout by its client: every process
and node then closes the connections that used it (cluster.py). A kill with
any other reason (or none) ends the session only: the cookie stays logged
in, and the browser's next connection logs in with it again.

Refusing cookie logins clearly while the store is down:
Crossbar reads the cookie during the WebSocket handshake and, when the
cookie store cannot answer, would go on as if the cookie were not logged in:
a client offering only "cookie" would be told that none of its authmethods
can be used. Here the connection remembers that its cookie could not be
read (cookiestore.py) and answers a HELLO offering "cookie" with
``ABORT(cfxstore.error.store_unavailable, "the cookie store is unavailable;
retry later")``; every other HELLO goes to Crossbar unchanged.

Guessing short cookie values: a presented value too short to be unguessable
that no cookie has counts against the client's address, and while that
address is locked its short values are not looked up (cookieguesses.py).
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp import message
from autobahn.websocket.types import ConnectionDeny
from crossbar.router.protocol import WampWebSocketServerProtocol
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from cfxstore.router import metrics
from cfxstore.router.availability import STORE_UNAVAILABLE
from cfxstore.router.shutdown import stopping

LOGOUT = "wamp.close.logout"


class CookieAwareServerProtocol(WampWebSocketServerProtocol):
    """A WAMP WebSocket connection of a transport with a cfxstore cookie store."""

    _unavailable: str | None = None
    _lost = False

    def onConnect(self, request: Any) -> Any:
        if stopping():
            # What is acknowledged now is committed before the worker goes: accept nothing new.
            raise ConnectionDeny(ConnectionDeny.SERVICE_UNAVAILABLE, "the router is stopping")
        store = self.factory._cookiestore
        presented = store.parse(request.headers)
        client = store.guesses.client(presented, self.peer, request.headers)
        if store.guesses.locked(client):
            # Not looked up at all: the connection gets a fresh cookie, as if it had presented none.
            request.headers = {k: v for k, v in request.headers.items() if k != "cookie"}
            presented = client = None
        read = store.prefetch(presented) if presented else None
        if read is None:
            return self._connect(request, store, presented, client)
        # The cookie is read off the reactor; the handshake goes on once it is known (autobahn waits).
        return read.addCallback(lambda _: self._connect(request, store, presented, client))

    def _connect(self, request: Any, store: Any, presented: str | None, client: Any) -> Any:
        try:
            if self._lost:
                raise ConnectionDeny(ConnectionDeny.SERVICE_UNAVAILABLE, "the connection was closed")
            result = super().onConnect(request)
            if client is not None and store.unknown(presented):
                store.guesses.missed(client)
            unavailable = getattr(store, "unavailable", None)
            if unavailable is not None and self._cbtid:
                self._unavailable = unavailable(self._cbtid)
            return result
        finally:
            if presented:
                store.fetched(presented)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True  # a handshake still waiting for its cookie read must not register the connection
        super().connectionLost(reason)

    def send(self, msg: message.Message) -> None:
        if isinstance(msg, message.Goodbye) and msg.reason == LOGOUT and self._cbtid:
            self.factory._cookiestore.delAuth(self._cbtid)  # never raises (cookiebackend.py)
        super().send(msg)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._unavailable is not None:
            why, self._unavailable = self._unavailable, None  # only the first message (HELLO) is looked at
            try:
                messages = self._serializer.unserialize(payload, isBinary)
            except Exception:
                messages = []  # Crossbar reports it below
            if any(isinstance(m, message.Hello) and "cookie" in (m.authmethods or ()) for m in messages):
                self.send(message.Abort(STORE_UNAVAILABLE, why))
                metrics.login("cookie", "unavailable")
                self.sendClose(1000, "store unavailable")
                return
        super().onMessage(payload, isBinary)
