"""A WAMP-cryptosign client for the router tests: Autobahn's own authenticator (AuthCryptoSign) in a session.

``cryptosign_login`` connects over WebSocket (TLS when ``tls`` is given, with
``tls-unique`` channel binding when ``channel_binding`` is set), joins with the
private key and returns the Login, or fails with Denied like router_wampclient.login.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.auth import AuthCryptoSign
from autobahn.wamp.types import ComponentConfig
from nacl.signing import SigningKey
from twisted.internet import defer, reactor
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint

from router_wampclient import Client, Login


def new_key() -> tuple[str, str]:
    """(private key seed, public key), both hex."""
    key = SigningKey.generate()
    return key.encode().hex(), key.verify_key.encode().hex()


class CryptosignClient(Client):
    """router_wampclient's session, answering cryptosign challenges with Autobahn's AuthCryptoSign."""

    def __init__(self, config: ComponentConfig, auth: AuthCryptoSign, authid: str | None) -> None:
        super().__init__(config, authmethods=["cryptosign"], authid=authid, ticket=None, secret=None)
        self._auth = auth

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=["cryptosign"], authid=self._authid, authextra=self._auth.authextra)

    def onChallenge(self, challenge: Any) -> Any:
        if self.config.extra == "ignore channel binding":  # signs the bare challenge although binding was asked
            return self._auth._privkey.sign_challenge(challenge, channel_id=None, channel_id_type=None)
        return self._auth.on_challenge(self, challenge)


@defer.inlineCallbacks
def cryptosign_login(port: int, privkey: str, *, authid: str | None = None, realm: str = "realm1",
                     send_pubkey: bool = True, channel_binding: str | None = None, tls: Any = None,
                     unbound_signature: bool = False):
    """Join with the Ed25519 key ``privkey`` (hex seed); ``tls``: a client TLS context factory.

    ``unbound_signature``: ask for ``channel_binding`` but sign the challenge as if none had been asked for.
    """
    authextra: dict[str, Any] = {"channel_binding": channel_binding} if channel_binding else {}
    auth = AuthCryptoSign(privkey=privkey, authextra=authextra)
    if not send_pubkey:
        auth.authextra.pop("pubkey")
    session = CryptosignClient(ComponentConfig(realm, extra="ignore channel binding" if unbound_signature else None),
                               auth, authid)
    scheme = "wss" if tls is not None else "ws"
    factory = WampWebSocketClientFactory(lambda: session, url=f"{scheme}://127.0.0.1:{port}/")
    endpoint = (SSL4ClientEndpoint(reactor, "127.0.0.1", port, tls, timeout=10) if tls is not None
                else TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10))
    yield endpoint.connect(factory)
    details = yield session.joined
    return Login(session, details, None)
