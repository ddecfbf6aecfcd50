"""WAMP-SCRAM and TLS client-certificate principals end to end: a real router process and Autobahn's own clients.

The SCRAM client is Autobahn's (``autobahn.wamp.auth.AuthScram``), which also
checks the router's ServerSignature in WELCOME. The TLS transport requires a
client certificate issued by the test's CA; principals are matched by the
certificate's SHA-256 fingerprint, or by its subject CN for the CA named in
``tls.cn_issuers``.
"""

from __future__ import annotations

import uuid

import pytest
from autobahn.twisted.wamp import Session
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.auth import AuthScram
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, reactor
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from cfxstore.credentials.service import CredentialService
from cfxstore.database import open_database
from cfxstore.management import Management
from router_harness import RouterProcess, edit_config, free_port, run_cli, running
from router_wampclient import Denied
from tlscerts import issue

REALM = "realm1"
THROTTLE = {"free_failures": 3, "base_delay": 3.0, "attempt_timeout": 5.0, "deny_delay": 0.05}


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


@pytest.fixture(scope="module")
def pki():
    ca = issue("cfxstore test CA", ca=True)
    other_ca = issue("cfxstore test CA", ca=True, org="someone else")
    return {"ca": ca, "other_ca": other_ca, "server": issue("127.0.0.1", ca, server=True)}


@pytest.fixture(scope="module")
def router(tmp_path_factory, reactor_thread, pki):
    cbdir = tmp_path_factory.mktemp("scramtls")
    port, tls_port = free_port(), free_port()
    assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port)).returncode == 0
    pki["server"].write(cbdir, "server")
    (cbdir / "ca.crt").write_bytes(pki["ca"].cert_pem)
    (cbdir / "other-ca.crt").write_bytes(pki["other_ca"].cert_pem)

    def configure(config: dict) -> None:
        transports = config["workers"][0]["transports"]
        auth = transports[0]["auth"]
        shared = auth["ticket"]  # one dict: Crossbar caches the authenticator by its "create" name
        shared["config"]["throttle"] = THROTTLE
        shared["config"]["tls"] = {"cn_issuers": ["ca.crt"]}
        auth["scram"] = shared
        secure = {**transports[0], "auth": {"tls": shared},
                  "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": tls_port,
                               "tls": {"key": "server.key", "certificate": "server.crt",
                                       "ca_certificates": ["ca.crt", "other-ca.crt"]}}}
        secure.pop("cookie", None)
        transports.append(secure)

    edit_config(cbdir, configure)
    node = RouterProcess(cbdir, [port, tls_port])
    node.port, node.tls_port = port, tls_port
    with running(node):
        yield node


@pytest.fixture(scope="module")
def principals(router):
    db = open_database(str(router.cbdir / "cfxstore-db"))
    yield Management(db, credentials=CredentialService(db)).principals
    db.close()


def new_authid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- WAMP-SCRAM ---

def test_scram_principal_added_through_the_cli_logs_in_with_autobahns_client(reactor_thread, router):
    authid = new_authid("scram")
    added = run_cli("principals", "add", authid, "--db", str(router.cbdir / "cfxstore-db"), "--role", "user",
                    "--method", "scram", "--password-stdin", input="correct horse\n")
    assert added.returncode == 0, added.stderr
    details = reactor_thread.call(scram_login, router.port, authid, "correct horse")
    assert (details.authid, details.authrole, details.authmethod) == (authid, "user", "scram")


def test_scram_wrong_password_is_refused(reactor_thread, router, principals):
    authid = new_authid("scram")
    principals.create(realm=REALM, authid=authid, role="user", scram="right password")
    with pytest.raises(Denied) as denied:
        reactor_thread.call(scram_login, router.port, authid, "wrong password")
    assert denied.value.reason == "wamp.error.not_authorized"


def test_scram_unknown_authid_is_refused_like_a_wrong_password(reactor_thread, router, principals):
    known = new_authid("scram")
    principals.create(realm=REALM, authid=known, role="user", scram="right password")
    with pytest.raises(Denied) as wrong:
        reactor_thread.call(scram_login, router.port, known, "wrong password")
    with pytest.raises(Denied) as unknown:
        reactor_thread.call(scram_login, router.port, new_authid("nobody"), "any password")
    assert (unknown.value.reason, unknown.value.message) == (wrong.value.reason, wrong.value.message)


def test_scram_password_changed_on_a_running_node_takes_effect_at_once(reactor_thread, router, principals):
    authid = new_authid("scram")
    principal = principals.create(realm=REALM, authid=authid, role="user", scram="first password")
    assert reactor_thread.call(scram_login, router.port, authid, "first password").authid == authid
    principals.set_secret(principal.oid, "scram", "second password")
    with pytest.raises(Denied):
        reactor_thread.call(scram_login, router.port, authid, "first password")
    assert reactor_thread.call(scram_login, router.port, authid, "second password").authid == authid


def test_scram_failures_lock_the_authid_out(reactor_thread, router, principals):
    authid = new_authid("scram")
    principals.create(realm=REALM, authid=authid, role="user", scram="right password")
    for _ in range(THROTTLE["free_failures"]):
        with pytest.raises(Denied):
            reactor_thread.call(scram_login, router.port, authid, "wrong password")
    # Locked now: even the right password is refused until the lockout ends.
    with pytest.raises(Denied) as locked:
        reactor_thread.call(scram_login, router.port, authid, "right password")
    assert "retry" in (locked.value.message or "")


# --- TLS client certificates ---

def test_tls_certificate_logs_in_by_its_fingerprint(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])  # not under the CN issuer: only the fingerprint can name it
    principals.create(realm=REALM, authid=authid, role="user", tls={"sha256": client.sha256})
    details = reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    assert (details.authid, details.authrole, details.authmethod) == (authid, "user", "tls")


def test_tls_unknown_certificate_is_refused(reactor_thread, router, pki):
    client = issue(new_authid("stranger"), pki["other_ca"])
    with pytest.raises(Denied) as denied:
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    assert (denied.value.reason, denied.value.message) == ("wamp.error.authentication_failed",
                                                           "invalid authid or client certificate")


def test_tls_certificate_added_to_a_running_node_logs_in_at_once(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])
    principal = principals.create(realm=REALM, authid=authid, role="user")
    with pytest.raises(Denied):
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client)
    principals.set_credential(principal.oid, "tls", {"sha256": client.sha256})
    assert reactor_thread.call(tls_login, router.tls_port, pki["ca"], client).authid == authid


def test_tls_certificate_naming_another_authid_is_refused(reactor_thread, router, principals, pki):
    authid = new_authid("device")
    client = issue(authid, pki["other_ca"])
    principals.create(realm=REALM, authid=authid, role="user", tls={"sha256": client.sha256})
    with pytest.raises(Denied) as denied:
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], client, new_authid("someone"))
    assert denied.value.message == "invalid authid or client certificate"


def test_tls_subject_cn_matches_only_under_the_configured_issuer(reactor_thread, router, principals, pki):
    cn = new_authid("sensor")
    principals.create(realm=REALM, authid=cn, role="user", tls={"cn": cn})
    details = reactor_thread.call(tls_login, router.tls_port, pki["ca"], issue(cn, pki["ca"]))
    assert details.authid == cn
    # Same CN from the other CA the transport trusts: that CA does not speak for names.
    with pytest.raises(Denied):
        reactor_thread.call(tls_login, router.tls_port, pki["ca"], issue(cn, pki["other_ca"]))
