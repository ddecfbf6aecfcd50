"""Autobahn's own WAMP-SCRAM client, and a client that joins over TLS with a client certificate, for router tests."""

from __future__ import annotations

from autobahn.twisted.wamp import Session
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.auth import AuthScram
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, reactor
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from router_wampclient import Denied

REALM = "realm1"


class _Session(Session):
    """Autobahn's session; tells the test whether it joined or why not."""

    def __init__(self, config: ComponentConfig) -> None:
        super().__init__(config)
        self.joined: defer.Deferred = defer.Deferred()
        self.left: defer.Deferred = defer.Deferred()

    def on_join(self, details):
        self.joined.callback(details)

    def on_leave(self, details):
        if not self.joined.called:
            self.joined.errback(Denied(details.reason, details.message))
        self.disconnect()

    def on_disconnect(self):
        if not self.joined.called:
            self.joined.errback(Denied("disconnected", "connection closed before joining"))
        if not self.left.called:
            self.left.callback(None)


class _TlsSession(_Session):
    def on_connect(self):
        self.join(self.config.realm, authmethods=["tls"], authid=self.config.extra)


@defer.inlineCallbacks
def _join(session: _Session, url: str, endpoint):
    factory = WampWebSocketClientFactory(lambda: session, url=url)
    yield endpoint.connect(factory)
    details = yield session.joined
    return details


@defer.inlineCallbacks
def _leave(session: _Session):
    if session.is_attached():
        session.leave()
    yield session.left


@defer.inlineCallbacks
def scram_login(port: int, authid: str, password: str):
    """Join with Autobahn's SCRAM client; returns (details, session) or fails with Denied."""
    session = _Session(ComponentConfig(REALM))
    session.add_authenticator(AuthScram(authid=authid, password=password))
    details = yield _join(session, f"ws://127.0.0.1:{port}/", TCP4ClientEndpoint(reactor, "127.0.0.1", port, 10))
    yield _leave(session)
    return details


@defer.inlineCallbacks
def tls_login(port: int, ca, client, authid: str | None = None):
    """Join over TLS with client's certificate and the "tls" method; returns the details or fails with Denied."""
    options = optionsForClientTLS("127.0.0.1", trustRoot=Certificate.loadPEM(ca.cert_pem),
                                  clientCertificate=PrivateCertificate.loadPEM(client.cert_pem + client.key_pem))
    session = _TlsSession(ComponentConfig(REALM, extra=authid))
    details = yield _join(session, f"wss://127.0.0.1:{port}/",
                          SSL4ClientEndpoint(reactor, "127.0.0.1", port, options, timeout=10))
    yield _leave(session)
    return details
